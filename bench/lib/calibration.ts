// A fixed reference workload timed at the start and the end of a run: one RSA-2048 signature check with
// node:crypto and a cached key. On a shared virtual machine the same work costs more CPU time when the host is
// busy (the same code measured 30 to 50 µs here within minutes), so CPU-time figures from different runs are
// best compared through this number.
import { generateKeyPairSync, sign, verify } from "node:crypto";
import { timeLoop } from "./cpu-timer.ts";

export async function referenceRsaVerifyUs(): Promise<number> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const data = Buffer.alloc(256, 7);
  const signature = sign("sha256", data, privateKey);
  const check = () => {
    if (!verify("sha256", data, publicKey, signature)) throw new Error("reference signature does not verify");
  };
  await timeLoop(500, check);
  return Math.round((await timeLoop(4_000, check)).cpuUsPerOp * 10) / 10;
}
