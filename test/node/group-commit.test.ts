/**
 * Group commit (src/room/group-commit.ts) with a commit the test resolves
 * by hand and a clock it moves: frames that arrive while a commit is in
 * flight wait, are handled together in arrival order once it lands, and
 * never wait for ever; a room waits for a commit only when frames come
 * within a commit's time of each other.
 */
import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../src/room/group-commit";

/** A GroupCommit over a log of handled frames, whose every commit waits for `land()`, on a clock the test moves. */
function batches() {
  const handled: string[] = [];
  const commits: Array<{ land: () => void; fail: () => void }> = [];
  const clock = { now: 0 };
  const group = new GroupCommit<string>(
    (socket, data) => {
      handled.push(`${socket}:${String(data)}`);
    },
    () =>
      new Promise<void>((resolve, reject) => {
        commits.push({ land: resolve, fail: () => reject(new Error("commit failed")) });
      }),
    () => clock.now,
  );
  return { group, handled, commits, clock };
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("group commit", () => {
  it("handles a frame in a quiet room at once and waits for no commit", () => {
    const { group, handled, commits, clock } = batches();
    group.receive("a", "1");
    clock.now += 1000;
    group.receive("b", "1");
    expect(handled).toEqual(["a:1", "b:1"]);
    expect(commits).toHaveLength(0);
  });

  it("waits for the commit of a frame that came within a commit's time of the one before", () => {
    const { group, handled, commits, clock } = batches();
    group.receive("a", "1");
    clock.now += 5;
    group.receive("b", "1");
    expect(handled).toEqual(["a:1", "b:1"]);
    expect(commits).toHaveLength(1);
  });

  it("holds frames that arrive during a commit and handles them together, in arrival order, when it lands", async () => {
    const { group, handled, commits } = batches();
    group.receive("a", "1");
    group.receive("a", "2");
    const waits = [group.receive("b", "1"), group.receive("a", "3"), group.receive("c", "1")];
    expect(handled).toEqual(["a:1", "a:2"]);
    commits[0]?.land();
    await Promise.all(waits);
    expect(handled).toEqual(["a:1", "a:2", "b:1", "a:3", "c:1"]);
    // One batch, so one commit for the three, and the batch waits for it.
    expect(commits).toHaveLength(2);
  });

  it("keeps a frame that arrives during the second batch's commit for the third", async () => {
    const { group, handled, commits } = batches();
    group.receive("a", "1");
    group.receive("a", "2");
    void group.receive("a", "3");
    commits[0]?.land();
    await settled();
    const fourth = group.receive("a", "4");
    expect(handled).toEqual(["a:1", "a:2", "a:3"]);
    commits[1]?.land();
    await fourth;
    expect(handled).toEqual(["a:1", "a:2", "a:3", "a:4"]);
  });

  it("stops waiting for commits once they are quick and frames come further apart", async () => {
    const { group, commits, clock } = batches();
    group.receive("a", "1");
    group.receive("a", "2");
    // This commit lands within the clock's step: the room learns that commits take 1 ms.
    commits[0]?.land();
    await settled();
    clock.now += 5;
    group.receive("a", "3");
    expect(commits).toHaveLength(1);
  });

  it("waits for frames further apart when commits take longer", async () => {
    const { group, commits, clock } = batches();
    group.receive("a", "1");
    group.receive("a", "2");
    // This commit takes 30 ms, longer than the first guess.
    clock.now += 30;
    commits[0]?.land();
    await settled();
    clock.now += 70;
    group.receive("a", "3");
    clock.now += 25;
    group.receive("a", "4");
    expect(commits).toHaveLength(2);
  });

  it("settles a waiting frame's promise only once its handling is done, an awaiting join included", async () => {
    const done: string[] = [];
    let land = () => {};
    const group = new GroupCommit<string>(
      (socket, data) =>
        data === "join"
          ? new Promise<void>((resolve) => setTimeout(resolve, 20)).then(() => {
              done.push(socket);
            })
          : undefined,
      () =>
        new Promise<void>((resolve) => {
          land = resolve;
        }),
      () => 0,
    );
    group.receive("a", "chat");
    group.receive("a", "chat");
    const joining = group.receive("b", "join");
    land();
    await joining;
    expect(done).toEqual(["b"]);
  });

  it("handles the waiting frames even when the commit fails", async () => {
    const { group, handled, commits } = batches();
    group.receive("a", "1");
    group.receive("a", "2");
    const waiting = group.receive("b", "1");
    commits[0]?.fail();
    await waiting;
    expect(handled).toEqual(["a:1", "a:2", "b:1"]);
  });

  it("handles every frame at once where writes are immediate (no commit to wait for)", () => {
    const handled: string[] = [];
    const group = new GroupCommit<string>(
      (socket, data) => {
        handled.push(`${socket}:${String(data)}`);
      },
      () => undefined,
      () => 0,
    );
    for (const n of ["1", "2", "3"]) group.receive("a", n);
    expect(handled).toEqual(["a:1", "a:2", "a:3"]);
  });
});
