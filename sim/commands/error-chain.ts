// Apple's ErrorChain: the array of NSError-like dictionaries a device reports with Status "Error", outermost
// error first. Apple does not publish the codes; the ones used here are in the ranges Apple's clients report
// (MCMDMErrorDomain 12xxx, MCProfileErrorDomain 1xxx, MCInstallationErrorDomain 4xxx) and servers must only
// rely on the shape, never on a code.
import type { PlistDict } from "../../src/wire/plist.ts";

export interface ErrorChainItem extends PlistDict {
  ErrorCode: number;
  ErrorDomain: string;
  LocalizedDescription: string;
  USEnglishDescription: string;
}

export function chainItem(domain: string, code: number, description: string): ErrorChainItem {
  return { ErrorCode: code, ErrorDomain: domain, LocalizedDescription: description, USEnglishDescription: description };
}

export const MDM_DOMAIN = "MCMDMErrorDomain";
export const PROFILE_DOMAIN = "MCProfileErrorDomain";
export const INSTALL_DOMAIN = "MCInstallationErrorDomain";

export const deviceErrors = {
  unknownCommand: (requestType: string) => [chainItem(MDM_DOMAIN, 12021, `The MDM request “${requestType}” is not supported.`)],
  notOnPlatform: (requestType: string, platform: string) => [
    chainItem(MDM_DOMAIN, 12021, `The MDM request “${requestType}” is not supported on ${platform}.`),
  ],
  notAuthorized: (requestType: string, reason: string) => [
    chainItem(MDM_DOMAIN, 12025, `The MDM server is not authorized to perform “${requestType}”.`),
    chainItem(MDM_DOMAIN, 12025, reason),
  ],
  invalidRequest: (requestType: string, detail: string) => [
    chainItem(MDM_DOMAIN, 12001, `The MDM request “${requestType}” is invalid.`),
    chainItem(MDM_DOMAIN, 12001, detail),
  ],
};
