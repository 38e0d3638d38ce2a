import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SecretBox, SecretError } from "./envelope.ts";
import { parseKeyring } from "./keyring.ts";

const k1 = randomBytes(32).toString("base64");
const k2 = randomBytes(32).toString("base64");

describe("SecretBox", () => {
  it("round-trips and never contains the plaintext", () => {
    const box = new SecretBox(parseKeyring(k1, "test"));
    const secret = "-----BEGIN PRIVATE KEY-----secret-material";
    const sealed = box.seal(secret, "ca-key");
    expect(Buffer.from(sealed).includes(Buffer.from("secret-material"))).toBe(false);
    expect(box.openString(sealed, "ca-key")).toBe(secret);
  });

  it("refuses a value opened for another purpose or tampered with", () => {
    const box = new SecretBox(parseKeyring(k1, "test"));
    const sealed = box.seal("x", "ca-key");
    expect(() => box.open(sealed, "push-key")).toThrow(SecretError);
    const bad = Buffer.from(sealed);
    bad[bad.length - 1]! ^= 1;
    expect(() => box.open(bad, "ca-key")).toThrow(/authentication/);
  });

  it("rotates: old values open with the old key and reseal under the new active key", () => {
    const old = new SecretBox(parseKeyring(`old:${k1}`, "test"));
    const sealed = old.seal("token", "t");
    const rotated = new SecretBox(parseKeyring(`new:${k2},old:${k1}`, "test"));
    expect(rotated.openString(sealed, "t")).toBe("token");
    const resealed = rotated.reseal(sealed, "t");
    expect(SecretBox.keyIdOf(resealed)).toBe("new");
    expect(() => old.open(resealed, "t")).toThrow(/not in the keyring/);
  });

  it("rejects keys of the wrong size", () => {
    expect(() => parseKeyring(randomBytes(16).toString("base64"), "ORCHARD_MASTER_KEY")).toThrow(/32 bytes/);
  });
});
