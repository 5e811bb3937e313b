/**
 * Connection handlers (src/client/connection-types.ts) that ignore everything,
 * with the few a test cares about given: the Node tests drive the browser
 * client's session logic without a page.
 */
import type { Handlers } from "../../src/client/connection";

export function handlers(given: Partial<Handlers> & Pick<Handlers, "status">): Handlers {
  const ignore = () => {};
  return {
    welcome: ignore,
    chat: ignore,
    update: ignore,
    presence: ignore,
    typing: ignore,
    dm: ignore,
    moderation: ignore,
    read: ignore,
    error: ignore,
    outbox: ignore,
    ...given,
  };
}
