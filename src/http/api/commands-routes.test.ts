import { afterAll, beforeAll, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { describeEachDatabase } from "../../../test/databases.ts";
import type { TestContext } from "../../../test/context.ts";
import { startApiApp, stopApiApp, type ApiApp } from "../../../test/api-app.ts";
import { commandRequestTypes } from "../../wire/schema/index.ts";

describeEachDatabase("POST /api/v1/commands: document and hand validation", (database) => {
  let t: TestContext;
  let app: FastifyInstance;
  let auth: ApiApp["auth"];

  beforeAll(async () => {
    ({ t, app, auth } = await startApiApp(database));
  });
  afterAll(() => stopApiApp({ t, app }));

  it("the OpenAPI document shows the JSON body and the raw-plist alternative, one per Content-Type", async () => {
    const doc = (await app.inject("/api/v1/openapi.json")).json();
    const body = doc.paths["/api/v1/commands"].post.requestBody;
    expect(Object.keys(body.content).sort()).toEqual(["application/json", "application/x-apple-plist", "application/xml", "text/xml"]);
    const json = body.content["application/json"].schema;
    expect(json.type).toBe("object");
    expect(json.required.sort()).toEqual(["requestType", "targets"]);
    expect(json.additionalProperties).toBe(false);
    expect(json.properties.targets).toMatchObject({ type: "array", items: { type: "string" } });
    expect(json.properties.requestType.type).toBe("string");
    expect(json.properties.requestType.enum).toEqual([...commandRequestTypes()]);
    expect(json.properties.requestType.enum).toEqual(expect.arrayContaining(["DeviceInformation", "InstallProfile", "EraseDevice"]));
    expect(json.properties.params).toMatchObject({ type: "object", additionalProperties: true });
    expect(json.properties.priority).toMatchObject({ type: "integer", minimum: -100, maximum: 100 });
    expect(json.properties.expiresAt).toMatchObject({ type: "string", format: "date-time" });
    expect(body.content["application/x-apple-plist"].schema).toMatchObject({ type: "string", format: "binary", description: expect.stringContaining("?target=") });
  });

  it("still checks the JSON body by hand, with its own messages", async () => {
    const post = (payload: object) => app.inject({ method: "POST", url: "/api/v1/commands", headers: auth, payload });
    const extra = await post({ targets: ["E1"], requestType: "DeviceInformation", colour: "red" });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error.message).toBe("unknown field: colour");
    const priority = await post({ targets: ["E1"], requestType: "DeviceInformation", priority: 101 });
    expect(priority.json().error.message).toBe("priority must be an integer from -100 to 100");
    const targets = await post({ requestType: "DeviceInformation" });
    expect(targets.json().error.message).toBe("targets must be an array of enrollment ids");
  });
});
