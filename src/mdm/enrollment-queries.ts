// What admins read about enrollments (the API's lists and details): a thin service over the store, so routes
// never reach the database themselves.
import type { Store } from "../store/db.ts";
import { getEnrollment, listEnrollments, type EnrollmentFilter, type EnrollmentRow } from "../store/enrollments.ts";
import { enrollmentCommands, type EnrollmentCommandRow } from "../store/command-queue.ts";

export class EnrollmentQueries {
  constructor(private readonly store: Store) {}

  get(id: string): Promise<EnrollmentRow | undefined> {
    return getEnrollment(this.store, id);
  }

  /** One page in id order after `after`. */
  list(filter: EnrollmentFilter, limit: number, after?: string): Promise<EnrollmentRow[]> {
    return listEnrollments(this.store, filter, limit, after);
  }

  /** Outstanding commands and recent results; undefined for an unknown enrollment. */
  async commands(id: string, limit: number): Promise<{ queue: EnrollmentCommandRow[]; history: EnrollmentCommandRow[] } | undefined> {
    if (!(await getEnrollment(this.store, id))) return undefined;
    return enrollmentCommands(this.store, id, limit);
  }
}
