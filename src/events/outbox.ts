// The transactional outbox. A service that changes state calls `record(tx, event, payload)` inside the
// transaction of the change; every durable reaction registered for the event (a push owed, a webhook delivery,
// later: group re-evaluation, reconciliation, DDM sync) writes the work it owes in that same transaction, as
// rows of the jobs table. A crash after the commit therefore cannot lose a reaction, and a rollback takes the
// reactions with it. Workers on any replica run the jobs at least once; reactions make their jobs idempotent.
//
// After the commit the event is also emitted on the in-process bus: a wake-up (run the jobs now rather than at
// the next poll) and a feed for in-process observers, never the only record.
import type { Tx } from "../store/db.ts";
import type { EventBus, EventName, OrchardEvents } from "./bus.ts";

/** Records, inside the change's transaction, the work an event owes. Must not call out of the process. */
export type Reaction<E extends EventName = EventName> = (tx: Tx, payload: OrchardEvents[E], event: E) => Promise<void>;

export class Outbox {
  private readonly reactions = new Map<EventName, Array<Reaction<EventName>>>();
  private readonly anyReactions: Array<Reaction<EventName>> = [];

  constructor(private readonly bus: EventBus) {}

  /** A durable reaction to one event. */
  react<E extends EventName>(event: E, reaction: Reaction<E>): void {
    const list = this.reactions.get(event) ?? [];
    list.push(reaction as unknown as Reaction<EventName>);
    this.reactions.set(event, list);
  }

  /** A durable reaction to every event (webhooks). */
  reactToAny(reaction: Reaction<EventName>): void {
    this.anyReactions.push(reaction);
  }

  /** Records an event and the work it owes in `tx`; emits it on the bus once `tx` has committed. */
  async record<E extends EventName>(tx: Tx, event: E, payload: OrchardEvents[E]): Promise<void> {
    const list = this.reactions.get(event);
    if (list) for (const r of list) await r(tx, payload as OrchardEvents[EventName], event);
    for (const r of this.anyReactions) await r(tx, payload as OrchardEvents[EventName], event);
    tx.afterCommit(() => this.bus.emit(event, payload));
  }
}
