// The organisation's name (ORCHARD_ORGANIZATION) is what devices show for Orchard's profiles and certificates.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../../test/databases.ts";
import type { TestContext } from "../../../test/context.ts";
import { startApiApp, stopApiApp, type ApiApp } from "../../../test/api-app.ts";
import { ConfigError, loadConfig } from "../../config.ts";
import { parsePlist, type PlistDict } from "../../wire/plist.ts";
import { parseCertificate } from "../../pki/certificate.ts";
import { nameAttribute } from "../../pki/names.ts";

// Commas, quotes and the other RFC 4514 specials must stay inside the one O= attribute.
const ORGANIZATION = 'Acme, Inc. + "Sons" <Ops>; #1=best';

it("defaults to Orchard and refuses an empty or multi-line name", () => {
  expect(loadConfig({}).organization).toBe("Orchard");
  expect(loadConfig({ ORCHARD_ORGANIZATION: "  Acme Corp " }).organization).toBe("Acme Corp");
  expect(() => loadConfig({ ORCHARD_ORGANIZATION: " " })).toThrow(ConfigError);
  expect(() => loadConfig({ ORCHARD_ORGANIZATION: "Acme\nEvil" })).toThrow(/ORCHARD_ORGANIZATION|organization/);
});

describeEachDatabase("the organisation's name", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: ApiApp["auth"];

  beforeAll(async () => {
    ({ t, app, auth } = await startApiApp(database, { organization: ORGANIZATION }));
  });
  afterAll(() => stopApiApp({ t, app }));

  it("is the enrollment profile's PayloadOrganization and the O= of the certificates Orchard creates", async () => {
    const p = (await app.inject({ method: "POST", url: "/api/v1/enrollment-profiles", headers: auth, payload: { name: "Field iPads" } })).json();
    const r = await app.inject({ url: `/api/v1/enrollment-profiles/${p.id}/mobileconfig?signed=false`, headers: auth });
    expect(r.statusCode).toBe(200);
    const profile = parsePlist(r.rawPayload) as PlistDict;
    expect(profile.PayloadOrganization).toBe(ORGANIZATION);
    const mdm = (profile.PayloadContent as PlistDict[]).find((x) => x.PayloadType === "com.apple.mdm");
    expect(mdm?.PayloadDescription).toBe(`Enrolls this device in ${ORGANIZATION}'s device management`);
    for (const cert of [t.ctx.credentials.ca.certDer, t.ctx.credentials.profileSigning.certDer]) {
      expect(nameAttribute(parseCertificate(cert).subjectDer, "O")).toBe(ORGANIZATION);
    }
  });
});
