/**
 * Group commit (src/room/group-commit.ts) with a commit the test resolves
 * by hand: frames that arrive while a commit is in flight wait, are handled
 * together in arrival order once it lands, and never wait for ever.
 */
import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../src/room/group-commit";

/** A GroupCommit over a log of handled frames, whose every commit waits for `land()`. */
function batches() {
  const handled: string[] = [];
  const commits: Array<{ land: () => void; fail: () => void }> = [];
  const group = new GroupCommit<string>(
    (socket, data) => {
      handled.push(`${socket}:${String(data)}`);
    },
    () =>
      new Promise<void>((resolve, reject) => {
        commits.push({ land: resolve, fail: () => reject(new Error("commit failed")) });
      }),
  );
  return { group, handled, commits };
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("group commit", () => {
  it("handles a frame at once when no commit is in flight", () => {
    const { group, handled, commits } = batches();
    group.receive("a", "1");
    expect(handled).toEqual(["a:1"]);
    expect(commits).toHaveLength(1);
  });

  it("holds frames that arrive during a commit and handles them together, in arrival order, when it lands", async () => {
    const { group, handled, commits } = batches();
    group.receive("a", "1");
    const waits = [group.receive("b", "1"), group.receive("a", "2"), group.receive("c", "1")];
    expect(handled).toEqual(["a:1"]);
    commits[0]?.land();
    await Promise.all(waits);
    expect(handled).toEqual(["a:1", "b:1", "a:2", "c:1"]);
    // One batch, so one commit for the three.
    expect(commits).toHaveLength(2);
  });

  it("keeps a frame that arrives during the second batch's commit for the third", async () => {
    const { group, handled, commits } = batches();
    group.receive("a", "1");
    void group.receive("a", "2");
    commits[0]?.land();
    await settled();
    const third = group.receive("a", "3");
    expect(handled).toEqual(["a:1", "a:2"]);
    commits[1]?.land();
    await third;
    expect(handled).toEqual(["a:1", "a:2", "a:3"]);
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
    );
    group.receive("a", "chat");
    const joining = group.receive("b", "join");
    land();
    await joining;
    expect(done).toEqual(["b"]);
  });

  it("handles the waiting frames even when the commit fails", async () => {
    const { group, handled, commits } = batches();
    group.receive("a", "1");
    const waiting = group.receive("b", "1");
    commits[0]?.fail();
    await waiting;
    expect(handled).toEqual(["a:1", "b:1"]);
  });

  it("handles every frame at once where writes are immediate (no commit to wait for)", () => {
    const handled: string[] = [];
    const group = new GroupCommit<string>(
      (socket, data) => {
        handled.push(`${socket}:${String(data)}`);
      },
      () => undefined,
    );
    for (const n of ["1", "2", "3"]) group.receive("a", n);
    expect(handled).toEqual(["a:1", "a:2", "a:3"]);
  });
});
