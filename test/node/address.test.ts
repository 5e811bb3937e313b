/**
 * Client addresses as the Worker and the objects it forwards to key them (src/worker/address.ts).
 */
import { describe, expect, it } from "vitest";
import { addressKey, requestAddress } from "../../src/worker/address";

describe("client addresses", () => {
  it("counts IPv4 addresses one by one and IPv6 addresses by their /64", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
  });

  it("counts a request without an address as `unknown`, and keeps what it cannot parse as it is", () => {
    expect(addressKey(undefined)).toBe("unknown");
    expect(addressKey("")).toBe("unknown");
    expect(addressKey("not:an:address:::")).toBe("not:an:address:::");
  });

  it("reads a request's address from CF-Connecting-IP, which Cloudflare sets, by the same rule", () => {
    const from = (ip?: string) =>
      new Request("https://chat.example/chat/r", ip ? { headers: { "CF-Connecting-IP": ip } } : {});
    expect(requestAddress(from("2001:db8:1:2:aaaa::1"))).toBe("2001:db8:1:2::/64");
    expect(requestAddress(from("203.0.113.7"))).toBe("203.0.113.7");
    expect(requestAddress(from())).toBe("unknown");
  });
});
