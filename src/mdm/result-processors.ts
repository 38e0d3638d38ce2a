// The result-processing registry: a module reacts to a command result of a given RequestType inside the
// result's transaction (the inventory module registers DeviceInformation, InstalledApplicationList,
// ProfileList …). Running in the same transaction keeps a device's results applied in the order the device
// sent them, and a crash cannot store a result without its effects.
//
// Processors run on the device's request: keep them lean (the report is parsed once, by the front end), and
// put slow or external work in the outbox (a job recorded through `tx`) instead of doing it inline.
import type { Tx } from "../store/db.ts";
import type { PlistDict } from "../wire/plist.ts";

export interface CommandResult {
  enrollmentId: string;
  commandUuid: string;
  requestType: string;
  status: "acknowledged" | "error" | "commandformaterror";
  /** The device's whole report, parsed. */
  report: PlistDict;
  completedAt: number;
}

export type ResultProcessor = (tx: Tx, result: CommandResult) => Promise<void>;

export class ResultProcessors {
  private readonly byType = new Map<string, ResultProcessor[]>();

  register(requestType: string, processor: ResultProcessor): void {
    const list = this.byType.get(requestType) ?? [];
    list.push(processor);
    this.byType.set(requestType, list);
  }

  has(requestType: string): boolean {
    return this.byType.has(requestType);
  }

  async run(tx: Tx, result: CommandResult): Promise<void> {
    const list = this.byType.get(result.requestType);
    if (list) for (const p of list) await p(tx, result);
  }
}
