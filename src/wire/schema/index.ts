// Apple's device-management schema at run time: key-spec lookups, the validator, command requirements.
export * from "./spec-types.ts";
export * from "./spec-lookup.ts";
export * from "./validate.ts";
export * from "./command-policy.ts";
export * from "./access-rights.ts";
export { effectiveSupportedOS, commandPlatformInfo, isAvailable } from "./supported-os.ts";
export { compareOSVersions, parseOSVersion } from "./os-version.ts";
export * from "./validate-message.ts";
