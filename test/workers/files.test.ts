/**
 * Protocol §11.3 inside workerd, where the test can list the FILES bucket
 * itself: a file uploaded through the Worker is in R2 under its room, and
 * deleting the message that carries it takes it out of the bucket.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { connect, last, until } from "./fixtures";

const PNG = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 2, 0, 0, 0, 3, 8, 2, 0,
  0, 0,
]);

async function keys(room: string): Promise<string[]> {
  return (await env.FILES.list({ prefix: `${room}/` })).objects.map((o) => o.key);
}

describe("the FILES bucket (§11.3)", () => {
  it("holds an upload under its room until the message carrying it is deleted", async () => {
    const room = "workers-files";
    const ann = await connect(room);
    ann.ws.send(JSON.stringify({ type: "join", name: "Ann", protocol: 3 }));
    const welcome = await until(last(ann, "welcome"), "the welcome");
    const res = await exports.default.fetch(`http://chat.test/api/rooms/${room}/files`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${String(welcome.token)}`,
        "Content-Type": "image/png",
        "X-File-Name": "a.png",
      },
      body: PNG,
    });
    expect(res.status).toBe(201);
    const { file } = (await res.json()) as { file: { id: string } };
    expect(await keys(room)).toEqual([`${room}/${file.id}`]);

    ann.ws.send(JSON.stringify({ type: "chat", text: "", files: [file.id] }));
    const chat = await until(last(ann, "chat"), "the chat");
    ann.ws.send(JSON.stringify({ type: "delete", seq: chat.seq }));
    await until(last(ann, "update"), "the delete");
    // The room deletes from the bucket without holding up the frame (waitUntil).
    expect(await until(async () => (await keys(room)).length === 0, "the bucket to be empty")).toBe(true);
  });
});
