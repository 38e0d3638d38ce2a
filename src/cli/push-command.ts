// orchard push csr | sign-request | upload | list | send
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { withContext } from "./with-context.ts";
import { cliActor } from "../events/actor.ts";
import { importPrivateKey } from "../pki/keys.ts";
import { pemBlocks } from "../pki/pem.ts";
import { readPkcs12 } from "../push/pkcs12.ts";
import { buildPushCertificateRequest } from "../push/push-certificate-request.ts";
import { PushTopicChangeError, type PushCertificateView, type PushUpload } from "../push/push-certificates.ts";
import { PushCertificateError } from "../push/push-certificate.ts";

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Certificates in a file, PEM (one or more) or a single DER certificate (Apple's .cer downloads are DER). */
function certificatesIn(path: string, what: string): Uint8Array[] {
  const bytes = read(path, what);
  if (bytes[0] === 0x30) return [new Uint8Array(bytes)];
  const certs = pemBlocks(bytes.toString("utf8")).filter((b) => b.label === "CERTIFICATE").map((b) => b.der);
  if (certs.length === 0) throw new Error(`${path} holds no certificate (expected PEM or DER)`);
  return certs;
}

function csrDerIn(path: string): Uint8Array {
  const bytes = read(path, "CSR");
  if (bytes[0] === 0x30) return new Uint8Array(bytes);
  const block = pemBlocks(bytes.toString("utf8")).find((b) => b.label === "CERTIFICATE REQUEST" || b.label === "NEW CERTIFICATE REQUEST");
  if (!block) throw new Error(`${path} holds no CERTIFICATE REQUEST (expected PEM or DER)`);
  return block.der;
}

function describe(c: PushCertificateView): string {
  return [
    `topic:      ${c.topic}${c.active ? " (active: new enrollment profiles carry it)" : ""}`,
    `subject:    ${c.subject}`,
    `not after:  ${c.notAfter} (${c.expired ? "EXPIRED" : `${c.expiresInDays} days left`})`,
    ...(c.warning ? [`warning:    ${c.warning}`] : []),
    ...(c.lastError ? [`APNs error: ${c.lastError} at ${c.lastErrorAt}`] : []),
  ].join("\n");
}

export function registerPushCommands(program: Command): void {
  const push = program.command("push").description("push certificates and pushes (APNs)");

  push
    .command("csr")
    .description("make a key and a CSR for a push certificate; the key stays in Orchard's database, sealed")
    .option("--subject <dn>", "subject of the request", "CN=Orchard MDM push,O=Orchard")
    .option("--out <file>", "where to write the CSR (PEM)", "push.csr")
    .option("--key-out <file>", "also write the private key (PEM, mode 0600); normally not needed")
    .action(async (opts: { subject: string; out: string; keyOut?: string }) => {
      const r = await withContext((ctx) => ctx.push.certificates.createRequest(cliActor(), opts.subject));
      writeFileSync(opts.out, r.csrPem);
      if (opts.keyOut) {
        writeFileSync(opts.keyOut, r.keyPem, { mode: 0o600 });
        chmodSync(opts.keyOut, 0o600);
      }
      console.log(`wrote ${opts.out}. Next: have your MDM vendor sign it (or, as the vendor, run \`orchard push sign-request\`), upload the result at Apple's Push Certificates Portal, then \`orchard push upload --certificate <Apple's .pem>\`.`);
    });

  push
    .command("sign-request")
    .description("as an MDM vendor: sign a customer's CSR into the request Apple's Push Certificates Portal takes")
    .requiredOption("--csr <file>", "the customer's CSR (PEM or DER)")
    .option("--vendor-cert <file>", "your MDM vendor certificate (Apple's mdm.cer, DER or PEM)")
    .option("--vendor-key <file>", "its private key (PEM)")
    .option("--vendor-p12 <file>", "or: the vendor certificate and key as a .p12")
    .option("--vendor-password <password>", "password of --vendor-p12", "")
    .option("--chain <file...>", "Apple's WWDR intermediate and Apple root certificates (DER or PEM)")
    .option("--digest <name>", "sha256 (Apple's current instructions) or sha1", "sha256")
    .option("--out <file>", "where to write the encoded request", "push-certificate-request.b64")
    .action((opts: { csr: string; vendorCert?: string; vendorKey?: string; vendorP12?: string; vendorPassword: string; chain?: string[]; digest: string; out: string }) => {
      if (opts.digest !== "sha256" && opts.digest !== "sha1") throw new Error("--digest must be sha256 or sha1");
      let vendorCertDer: Uint8Array;
      let vendorKey;
      let chainDer: Uint8Array[] = [];
      if (opts.vendorP12) {
        const p12 = readPkcs12(read(opts.vendorP12, "vendor .p12"), opts.vendorPassword);
        vendorCertDer = p12.certDer;
        vendorKey = p12.key;
        chainDer = p12.chainDer;
      } else {
        if (!opts.vendorCert || !opts.vendorKey) throw new Error("give --vendor-cert and --vendor-key, or --vendor-p12");
        const certs = certificatesIn(opts.vendorCert, "vendor certificate");
        vendorCertDer = certs[0]!;
        chainDer = certs.slice(1);
        vendorKey = importPrivateKey(read(opts.vendorKey, "vendor key").toString("utf8"));
      }
      for (const f of opts.chain ?? []) chainDer.push(...certificatesIn(f, "chain certificate"));
      const req = buildPushCertificateRequest({ csrDer: csrDerIn(opts.csr), vendorCertDer, vendorKey, chainDer, digest: opts.digest });
      writeFileSync(opts.out, req.encoded);
      for (const w of req.warnings) console.error(`warning: ${w}`);
      console.log(`wrote ${opts.out}: upload it at Apple's Push Certificates Portal (Create a certificate, or Renew to keep the topic).`);
    });

  push
    .command("upload")
    .description("upload a push certificate (new, or the renewal of the one in use)")
    .option("--certificate <file>", "the push certificate (PEM from Apple's portal)")
    .option("--key <file>", "its private key (PEM); omit when it was made by `orchard push csr`")
    .option("--p12 <file>", "or: certificate and key as a .p12")
    .option("--password <password>", "password of --p12", "")
    .option("--force", "accept a certificate for a different topic (devices on the old topic must re-enroll)")
    .option("--json", "print JSON")
    .action(async (opts: { certificate?: string; key?: string; p12?: string; password: string; force?: boolean; json?: boolean }) => {
      let input: PushUpload;
      if (opts.p12) input = { p12: new Uint8Array(read(opts.p12, ".p12")), password: opts.password };
      else if (opts.certificate) {
        const certificate = read(opts.certificate, "certificate").toString("utf8");
        input = opts.key ? { certificate, privateKey: read(opts.key, "key").toString("utf8") } : { certificate };
      } else throw new Error("give --certificate (with --key) or --p12");
      try {
        const r = await withContext((ctx) => ctx.push.certificates.upload(input, cliActor(), { force: opts.force === true }));
        if (opts.json) return console.log(JSON.stringify(r, null, 2));
        console.log(`${r.kind === "renewal" ? "renewed" : "uploaded"} push certificate\n${describe(r.certificate)}`);
      } catch (e) {
        if (e instanceof PushCertificateError || e instanceof PushTopicChangeError) throw new Error(e.message);
        throw e;
      }
    });

  push
    .command("list")
    .description("list push certificates")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      const list = await withContext((ctx) => ctx.push.certificates.list());
      if (opts.json) return console.log(JSON.stringify(list, null, 2));
      if (list.length === 0) return console.log("no push certificate: upload one with `orchard push upload`");
      console.log(list.map(describe).join("\n\n"));
    });

  push
    .command("send")
    .description("push to enrollments now (a running server sends it within a second)")
    .argument("<enrollmentIds...>")
    .action(async (ids: string[]) => {
      const r = await withContext((ctx) => ctx.push.dispatcher.requestForApi(ids, cliActor()));
      const known = new Set(ids).size - r.unknown.length;
      if (known > 0 && r.queued === 0) throw new Error("nothing queued: no push certificate has been uploaded");
      if (r.queued > 0) console.log(`queued pushes to ${r.queued} enrollment${r.queued === 1 ? "" : "s"}`);
      // As `rm a b` with b missing: the known ones are done, and the exit status says not all were.
      if (r.unknown.length) throw new Error(`no enrollment with id ${r.unknown.map((id) => `"${id}"`).join(", ")} (\`GET /api/v1/enrollments\` lists them)`);
    });
}
