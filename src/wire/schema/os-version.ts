// OS version strings as Apple's schema writes them ("10.13.4", "17.0") and as devices report them
// ("17.4.1", sometimes with a build suffix). Missing components count as zero: "17" == "17.0.0".

/** The numeric components of a version, or undefined when the string does not start with one. */
export function parseOSVersion(version: string): readonly number[] | undefined {
  const match = /^\s*(\d+(?:\.\d+)*)/.exec(version);
  if (!match?.[1]) return undefined;
  return match[1].split(".").map((part) => Number(part));
}

/** <0, 0 or >0 like a comparator; undefined when either side is not a version. */
export function compareOSVersions(a: string, b: string): number | undefined {
  const left = parseOSVersion(a);
  const right = parseOSVersion(b);
  if (!left || !right) return undefined;
  const length = Math.max(left.length, right.length);
  for (let i = 0; i < length; i++) {
    const diff = (left[i] ?? 0) - (right[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}
