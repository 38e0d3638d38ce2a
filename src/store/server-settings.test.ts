import { afterEach, beforeEach, expect, it } from "vitest";
import { describeEachDatabase } from "../../test/databases.ts";
import type { Store } from "./db.ts";
import { readServerSettings, recordServerSettings } from "./server-settings.ts";

describeEachDatabase("server settings", (database) => {
  let store: Store & { cleanup(): Promise<void> };
  beforeEach(async () => {
    store = await database.openStore();
  });
  afterEach(async () => store.cleanup());

  it("are absent until a server records them, then read back as recorded; a later start replaces them", async () => {
    expect(await readServerSettings(store)).toBeUndefined();
    await recordServerSettings(store, { publicUrl: "https://mdm.example.test:9443", httpsPort: 9443, httpPort: null, dev: false }, Date.UTC(2026, 0, 2));
    expect(await readServerSettings(store)).toEqual({ publicUrl: "https://mdm.example.test:9443", httpsPort: 9443, httpPort: null, dev: false, recordedAt: "2026-01-02T00:00:00.000Z" });
    await recordServerSettings(store, { publicUrl: "http://127.0.0.1:8080", httpsPort: 8443, httpPort: 8080, dev: true }, Date.UTC(2026, 0, 3));
    expect(await readServerSettings(store)).toEqual({ publicUrl: "http://127.0.0.1:8080", httpsPort: 8443, httpPort: 8080, dev: true, recordedAt: "2026-01-03T00:00:00.000Z" });
  });
});
