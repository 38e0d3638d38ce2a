// orchard apns-dev: the local APNs endpoint as its own process; and `orchard serve --apns-dev`.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { startApnsDev } from "../push/apns-dev/apns-dev.ts";
import { issuePushCertificate } from "../push/apns-dev/authority.ts";
import { parseCertificate } from "../pki/certificate.ts";
import { pemToDer } from "../pki/pem.ts";
import { pushTopicOf } from "../push/push-certificate.ts";

export function registerApnsDevCommands(program: Command): void {
  program
    .command("apns-dev")
    .description("run a local APNs endpoint for development and tests (HTTP/2 + TLS client certificates, like Apple's gateway)")
    .option("--dir <dir>", "where its CA, TLS certificate and development push certificate live", "apns-dev")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "provider (HTTP/2) port", "2197")
    .option("--device-port <port>", "device feed port (virtual devices subscribe here)", "2198")
    .option("--trust <file...>", "further CA certificates (PEM) whose push certificates are accepted")
    .action(async (opts: { dir: string; host: string; port: string; devicePort: string; trust?: string[] }) => {
      const dir = resolve(opts.dir);
      const dev = await startApnsDev({
        dir,
        host: opts.host,
        port: Number(opts.port),
        devicePort: Number(opts.devicePort),
        trustedCaPem: (opts.trust ?? []).map((f) => readFileSync(f, "utf8")),
      });
      const certFile = join(dir, "push-cert.pem");
      const keyFile = join(dir, "push-key.pem");
      if (!existsSync(certFile) || !existsSync(keyFile)) {
        const cert = await issuePushCertificate(dev.authority.ca);
        writeFileSync(certFile, cert.certPem);
        writeFileSync(keyFile, cert.keyPem, { mode: 0o600 });
      }
      const topic = pushTopicOf(parseCertificate(pemToDer(readFileSync(certFile, "utf8"), "CERTIFICATE")));
      console.log(`Local APNs endpoint running.
  Provider (HTTP/2):  ${dev.url}
  Device feed:        ${dev.feed?.url ?? "(off)"}  (GET /v1/events?token=HEX for Server-Sent Events)
  Development push certificate for topic ${topic}:
    ${certFile}
    ${keyFile}
Point Orchard at it:
  ORCHARD_APNS_URL=${dev.url} ORCHARD_APNS_CA_FILE=${join(dir, "ca.pem")} orchard serve
  orchard push upload --certificate ${certFile} --key ${keyFile}`);
      await new Promise<void>((done) => {
        const stop = () => void dev.close().then(done);
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}

/** Adds --apns-dev to `orchard serve` (the same as ORCHARD_APNS_DEV=true, which serve reads). */
export function addApnsDevServeOption(program: Command): void {
  const serve = program.commands.find((c) => c.name() === "serve");
  if (!serve) return;
  serve.option("--apns-dev", "run the local APNs endpoint in-process and push through it (development, demo)");
  serve.hook("preAction", (cmd) => {
    if ((cmd.opts() as { apnsDev?: boolean }).apnsDev) process.env.ORCHARD_APNS_DEV = "true";
  });
}
