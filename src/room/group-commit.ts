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
 *
 * Waiting for a commit is not free: its end wakes the object once more.
 * In a quiet room (a few chats a second) nothing ever arrives during a
 * commit, so that wake-up would buy nothing, and it cost the bench's 50
 * small rooms 15 % of their CPU (docs/benchmarks.md). So the room waits
 * for a frame's commit only when the room is busy: when the frame came
 * within one commit's time of the one before it, and the next will likely
 * come during this commit. Otherwise the frame is handled alone, as the
 * runtime would, and commits with its own event.
 */
type Data = string | ArrayBuffer;

/** What a commit is taken to last until one has been timed: a replicated write's few milliseconds, generously. */
const FIRST_GUESS_MS = 10;

export class GroupCommit<S> {
  readonly #handle: (socket: S, data: Data) => void | Promise<void>;
  readonly #committed: () => Promise<void> | undefined;
  readonly #now: () => number;
  #waiting: Array<readonly [S, Data]> = [];
  /** The batch in flight: its commit, then the next batch. */
  #flight: Promise<void> | undefined;
  /** When the last frame arrived. */
  #lastArrival = Number.NEGATIVE_INFINITY;
  /** How long the last awaited commit took, in ms (at least 1: the clock's step). */
  #commitMs = FIRST_GUESS_MS;

  /**
   * @param handle handles one frame (the inbox)
   * @param committed the commit of the writes made so far, or undefined when
   *   nothing waits on one (Node tests: their stores write at once)
   * @param now the clock (in a Durable Object it moves with each event, not within one)
   */
  constructor(
    handle: (socket: S, data: Data) => void | Promise<void>,
    committed: () => Promise<void> | undefined,
    now: () => number,
  ) {
    this.#handle = handle;
    this.#committed = committed;
    this.#now = now;
  }

  /**
   * Handles a frame now, or with the next batch while a commit is in flight.
   * The promise (while one is pending) settles once the frame is handled,
   * a join's token check included; returned to the runtime, it keeps the
   * event open, so the object is never evicted with a frame waiting.
   */
  receive(socket: S, data: Data): void | Promise<void> {
    const now = this.#now();
    const busy = now - this.#lastArrival <= this.#commitMs;
    this.#lastArrival = now;
    if (this.#flight) {
      this.#waiting.push([socket, data]);
      return this.#flight;
    }
    // The usual case, a frame in a quiet room, allocates no batch: it runs
    // once per chat, and the bench's small rooms showed that path's arrays
    // and closures in the profile (docs/benchmarks.md).
    const pending = this.#handle(socket, data);
    if (busy) this.#await();
    return pending;
  }

  /** Handles a batch, then holds the frames that come until its commit lands. */
  #run(batch: ReadonlyArray<readonly [S, Data]>): void | Promise<void> {
    const pending = batch.flatMap(([socket, data]) => this.#handle(socket, data) ?? []);
    this.#await();
    if (pending.length > 0) return Promise.all(pending).then(() => undefined);
  }

  /** Holds the frames that come until the commit of this turn's writes lands. */
  #await(): void {
    const started = this.#now();
    // A failed commit breaks the object (the runtime restarts it); the
    // frames waiting are handled anyway rather than held for ever.
    this.#flight = this.#committed()?.then(
      () => this.#next(started),
      () => this.#next(started),
    );
  }

  #next(started: number): void | Promise<void> {
    this.#commitMs = Math.max(1, this.#now() - started);
    this.#flight = undefined;
    const batch = this.#waiting;
    if (batch.length === 0) return;
    this.#waiting = [];
    // Frames came during that commit: the room is busy, so this batch's commit is waited for too.
    return this.#run(batch);
  }
}
