/**
 * Group commit (issue 27). The runtime commits every write made between
 * two awaits as one SQLite transaction, and its output gate holds every
 * frame sent meanwhile until that commit is durable: "stored before anyone
 * receives it" comes for free, one transaction per event. Here frames that
 * arrive while a commit is in flight wait, and are then handled together,
 * in arrival order, in one turn: one transaction for the whole batch, and
 * their broadcasts released together once it lands. Still stored before
 * anyone receives it; a crash loses only frames nobody was answered for,
 * which clients resend by `id` (§2.2).
 */
type Data = string | ArrayBuffer;

export class GroupCommit<S> {
  readonly #handle: (socket: S, data: Data) => void | Promise<void>;
  readonly #committed: () => Promise<void> | undefined;
  #waiting: Array<readonly [S, Data]> = [];
  /** The batch in flight: its commit, then the next batch. */
  #flight: Promise<void> | undefined;

  /**
   * @param handle handles one frame (the inbox)
   * @param committed the commit of the writes made so far, or undefined when
   *   nothing waits on one (Node tests: their stores write at once)
   */
  constructor(handle: (socket: S, data: Data) => void | Promise<void>, committed: () => Promise<void> | undefined) {
    this.#handle = handle;
    this.#committed = committed;
  }

  /**
   * Handles a frame now, or with the next batch while a commit is in flight.
   * The promise (while one is pending) settles once the frame is handled,
   * a join's token check included; returned to the runtime, it keeps the
   * event open, so the object is never evicted with a frame waiting.
   */
  receive(socket: S, data: Data): void | Promise<void> {
    if (this.#flight) {
      this.#waiting.push([socket, data]);
      return this.#flight;
    }
    return this.#run([[socket, data]]);
  }

  #run(batch: ReadonlyArray<readonly [S, Data]>): void | Promise<void> {
    const pending = batch.flatMap(([socket, data]) => this.#handle(socket, data) ?? []);
    // A failed commit breaks the object (the runtime restarts it); the
    // frames waiting are handled anyway rather than held for ever.
    this.#flight = this.#committed()?.then(
      () => this.#next(),
      () => this.#next(),
    );
    if (pending.length > 0) return Promise.all(pending).then(() => undefined);
  }

  #next(): void | Promise<void> {
    this.#flight = undefined;
    const batch = this.#waiting;
    if (batch.length === 0) return;
    this.#waiting = [];
    return this.#run(batch);
  }
}
