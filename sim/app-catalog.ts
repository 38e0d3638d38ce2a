// The apps a virtual device may have installed, per platform: Apple's own App Store apps and common third-party
// ones with their real bundle ids, names, App Store ids and plausible versions and sizes. Built-in system apps
// that cannot be deleted (Settings, Phone...) are left out, as Apple's InstalledApplicationList leaves them out.
import type { InstalledApp } from "./device-state.ts";
import type { DevicePlatform } from "./platform.ts";
import type { RandomSource } from "./seeded-random.ts";

export interface CatalogApp {
  readonly identifier: string;
  readonly name: string;
  /** CFBundleShortVersionString values seen in the field, oldest first; an update moves to the next. */
  readonly versions: readonly string[];
  readonly storeId?: number;
  /** Typical bundle size in MB. */
  readonly sizeMB: number;
}

const app = (identifier: string, name: string, versions: string[], sizeMB: number, storeId?: number): CatalogApp =>
  storeId === undefined ? { identifier, name, versions, sizeMB } : { identifier, name, versions, sizeMB, storeId };

const MOBILE: CatalogApp[] = [
  app("com.apple.Pages", "Pages", ["14.2", "14.3", "14.4"], 560, 361309726),
  app("com.apple.Numbers", "Numbers", ["14.2", "14.3", "14.4"], 520, 361304891),
  app("com.apple.Keynote", "Keynote", ["14.2", "14.3", "14.4"], 640, 361285480),
  app("com.apple.mobileimovie", "iMovie", ["3.5.1", "3.5.2"], 720, 377298193),
  app("com.apple.garageband10", "GarageBand", ["2.3.14", "2.3.15"], 1600, 408709785),
  app("com.apple.clips", "Clips", ["3.1.4", "3.1.5"], 180, 1212699939),
  app("com.apple.store.Jolly", "Apple Store", ["5.24", "5.25"], 95, 375380948),
  app("com.apple.supportapp", "Apple Support", ["5.7", "5.8"], 60, 1130498044),
  app("com.apple.testflight", "TestFlight", ["3.7.1", "3.8.0"], 40, 899247664),
  app("com.apple.shortcuts", "Shortcuts", ["7.0", "7.1"], 30),
  app("com.microsoft.Office.Outlook", "Microsoft Outlook", ["4.2516", "4.2518", "4.2520"], 320, 951937596),
  app("com.microsoft.skype.teams", "Microsoft Teams", ["7.9.1", "7.10.0"], 290, 1113153706),
  app("com.microsoft.Office.Word", "Microsoft Word", ["2.95", "2.96"], 410, 586447913),
  app("com.microsoft.Office.Excel", "Microsoft Excel", ["2.95", "2.96"], 420, 586683407),
  app("com.microsoft.skydrive", "OneDrive", ["16.18", "16.19"], 260, 477537958),
  app("com.microsoft.azureauthenticator", "Authenticator", ["6.8.26", "6.8.27"], 150, 983156458),
  app("com.google.chrome.ios", "Google Chrome", ["137.0.7151.51", "138.0.7204.35"], 280, 535886823),
  app("com.google.Gmail", "Gmail", ["6.0.250518", "6.0.250601"], 380, 422689480),
  app("com.google.Maps", "Google Maps", ["6.148.0", "6.149.1"], 330, 585027354),
  app("com.google.Drive", "Google Drive", ["4.2025.20", "4.2025.22"], 240, 507874739),
  app("com.tinyspeck.chatlyio", "Slack", ["25.05.10", "25.06.10"], 270, 618783545),
  app("us.zoom.videomeetings", "Zoom Workplace", ["6.5.0", "6.5.1"], 210, 546505307),
  app("com.cisco.webex.meetings", "Webex", ["45.5.0", "45.6.0"], 350, 298844386),
  app("com.getdropbox.Dropbox", "Dropbox", ["432.2", "434.2"], 300, 327630330),
  app("com.atlassian.jira.core", "Jira Cloud", ["153.0.0", "154.1.0"], 140, 1006972087),
  app("com.salesforce.chatter", "Salesforce", ["254.050", "256.010"], 190, 404249815),
  app("com.1password.1password", "1Password 8", ["8.10.74", "8.10.78"], 120, 1511601750),
  app("net.whatsapp.WhatsApp", "WhatsApp", ["25.15.80", "25.16.81"], 260, 310633997),
  app("com.facebook.Messenger", "Messenger", ["515.0", "516.0"], 230, 454638411),
  app("com.linkedin.LinkedIn", "LinkedIn", ["9.31.1204", "9.31.1380"], 350, 288429040),
  app("com.spotify.client", "Spotify", ["9.0.44", "9.0.48"], 200, 324684580),
  app("com.duolingo.DuolingoMobile", "Duolingo", ["7.62.0", "7.64.0"], 330, 570060128),
  app("com.adobe.Adobe-Reader", "Adobe Acrobat Reader", ["25.05.00", "25.06.00"], 380, 469337564),
  app("com.burbn.instagram", "Instagram", ["381.0", "383.1"], 370, 389801252),
  app("com.ubercab.UberClient", "Uber", ["3.671.10001", "3.673.10000"], 480, 368677368),
  app("com.airbnb.app", "Airbnb", ["25.21", "25.23"], 330, 401626263),
  app("com.notion.Notion", "Notion", ["1.9.5", "1.9.7"], 120, 1232780281),
  app("com.evernote.iPhone.Evernote", "Evernote", ["10.140", "10.142"], 250, 281796108),
  app("com.trello.trello", "Trello", ["2025.9", "2025.10"], 110, 461504587),
  app("com.box.BoxNet", "Box", ["5.49.0", "5.50.1"], 160, 290853822),
  app("com.docusign.ink", "DocuSign", ["6.15.0", "6.16.0"], 190, 474990205),
  app("com.okta.mobile", "Okta Verify", ["9.40.0", "9.41.1"], 90, 490179405),
  app("com.duosecurity.DuoMobile", "Duo Mobile", ["4.82.0", "4.84.0"], 80, 422663827),
  app("com.yourcompany.PPClient", "Pocket", ["8.52", "8.53"], 60, 309601447),
  app("com.netflix.Netflix", "Netflix", ["17.6.0", "17.7.0"], 150, 363590051),
  app("com.amazon.Amazon", "Amazon Shopping", ["25.10.0", "25.11.0"], 300, 297606951),
  app("com.reddit.Reddit", "Reddit", ["2025.20.0", "2025.22.0"], 250, 1064216828),
  app("com.waze.iphone", "Waze", ["5.6.0", "5.7.0"], 280, 323229106),
];

const MAC: CatalogApp[] = [
  app("com.apple.iWork.Pages", "Pages", ["14.3", "14.4"], 560, 409201541),
  app("com.apple.iWork.Numbers", "Numbers", ["14.3", "14.4"], 520, 409203825),
  app("com.apple.iWork.Keynote", "Keynote", ["14.3", "14.4"], 640, 409183694),
  app("com.apple.iMovieApp", "iMovie", ["10.4.2", "10.4.3"], 3200, 408981434),
  app("com.apple.garageband10", "GarageBand", ["10.4.11", "10.4.12"], 1100, 682658836),
  app("com.apple.dt.Xcode", "Xcode", ["16.3", "16.4"], 11000, 497799835),
  app("com.apple.configurator.ui", "Apple Configurator", ["2.17.1", "2.18"], 200, 1037126344),
  app("com.apple.TestFlight", "TestFlight", ["3.7.1", "3.8.0"], 40, 899247664),
  app("com.microsoft.teams2", "Microsoft Teams", ["25122.1412", "25153.1010"], 560),
  app("com.microsoft.Outlook", "Microsoft Outlook", ["16.96", "16.97"], 2200, 985367838),
  app("com.microsoft.Word", "Microsoft Word", ["16.96", "16.97"], 2400, 462054704),
  app("com.microsoft.Excel", "Microsoft Excel", ["16.96", "16.97"], 2300, 462058435),
  app("com.microsoft.Powerpoint", "Microsoft PowerPoint", ["16.96", "16.97"], 2100, 462062816),
  app("com.microsoft.OneDrive", "OneDrive", ["25.086", "25.105"], 500, 823766827),
  app("com.microsoft.VSCode", "Visual Studio Code", ["1.100.2", "1.101.0"], 600),
  app("com.google.Chrome", "Google Chrome", ["137.0.7151.56", "138.0.7204.50"], 1300),
  app("org.mozilla.firefox", "Firefox", ["139.0", "140.0"], 400),
  app("com.tinyspeck.slackmacgap", "Slack", ["4.44.59", "4.45.60"], 480, 803453959),
  app("us.zoom.xos", "zoom.us", ["6.5.0", "6.5.1"], 320),
  app("com.1password.1password", "1Password", ["8.10.76", "8.10.78"], 430),
  app("com.getdropbox.dropbox", "Dropbox", ["225.4.4888", "226.4.4903"], 700),
  app("notion.id", "Notion", ["4.12.0", "4.13.0"], 420),
  app("com.docker.docker", "Docker", ["4.41.2", "4.42.0"], 2000),
  app("com.jetbrains.intellij", "IntelliJ IDEA", ["2025.1.1", "2025.1.2"], 3000),
  app("com.figma.Desktop", "Figma", ["125.4.9", "125.5.6"], 500),
  app("com.adobe.Reader", "Adobe Acrobat Reader", ["25.001.20474", "25.001.20521"], 900),
  app("com.spotify.client", "Spotify", ["1.2.63", "1.2.64"], 380),
  app("com.openai.chat", "ChatGPT", ["1.2025.139", "1.2025.153"], 260),
  app("org.videolan.vlc", "VLC", ["3.0.21"], 190),
  app("com.googlecode.iterm2", "iTerm", ["3.5.13", "3.5.14"], 90),
  app("com.postmanlabs.mac", "Postman", ["11.46.6", "11.47.1"], 600),
  app("com.cisco.secureclient.gui", "Cisco Secure Client", ["5.1.8.105", "5.1.9.113"], 120),
];

const TV: CatalogApp[] = [
  app("com.netflix.Netflix", "Netflix", ["17.6.0", "17.7.0"], 110, 363590051),
  app("com.google.ios.youtube", "YouTube", ["20.20.5", "20.22.1"], 140, 544007664),
  app("com.disney.disneyplus", "Disney+", ["4.12.0", "4.13.0"], 90, 1446075923),
  app("com.amazon.aiv.AIVApp", "Prime Video", ["8.35", "8.36"], 120, 545519333),
  app("com.spotify.client", "Spotify", ["9.0.44", "9.0.48"], 80, 324684580),
  app("com.cisco.webex.meetings", "Webex", ["45.5.0", "45.6.0"], 120, 298844386),
  app("us.zoom.videomeetings", "Zoom for Home", ["6.5.0", "6.5.1"], 110, 546505307),
  app("com.plexapp.plex", "Plex", ["8.45", "8.46"], 90, 383457673),
  app("com.apple.TVConnect", "Apple TV Remote", ["1.0"], 10),
  app("com.hbo.hbonow", "Max", ["5.5.1", "5.6.0"], 100, 971265422),
  app("com.ted.TED", "TED", ["7.5.4", "7.5.6"], 60, 376183339),
  app("com.mlb.AtBatUniversal", "MLB", ["25.6.0", "25.7.0"], 150, 493619333),
];

const VISION: CatalogApp[] = [
  app("com.apple.Keynote", "Keynote", ["14.3", "14.4"], 640, 361285480),
  app("com.apple.Pages", "Pages", ["14.3", "14.4"], 560, 361309726),
  app("com.apple.Numbers", "Numbers", ["14.3", "14.4"], 520, 361304891),
  app("com.microsoft.skype.teams", "Microsoft Teams", ["7.9.1", "7.10.0"], 290, 1113153706),
  app("com.microsoft.Office.Word", "Microsoft Word", ["2.95", "2.96"], 410, 586447913),
  app("us.zoom.videomeetings", "Zoom Workplace", ["6.5.0", "6.5.1"], 210, 546505307),
  app("com.disney.disneyplus", "Disney+", ["4.12.0", "4.13.0"], 90, 1446075923),
  app("com.djay.pro.vision", "djay", ["5.3.3", "5.3.4"], 300, 1661637036),
  app("com.jigspace.JigSpace", "JigSpace", ["9.5", "9.6"], 250, 1263646708),
  app("com.tinyspeck.chatlyio", "Slack", ["25.05.10", "25.06.10"], 270, 618783545),
  app("com.notion.Notion", "Notion", ["1.9.5", "1.9.7"], 120, 1232780281),
  app("com.fantastical.Fantastical", "Fantastical", ["4.0.6", "4.0.8"], 120, 718043190),
];

const CATALOGS: Readonly<Record<DevicePlatform, readonly CatalogApp[]>> = { iOS: MOBILE, iPadOS: MOBILE, macOS: MAC, tvOS: TV, visionOS: VISION };

/** Apps a user might install on this platform. */
export function appCatalog(platform: DevicePlatform): readonly CatalogApp[] {
  return CATALOGS[platform];
}

/** How many apps a device starts with: phones and Macs carry more than a shared TV or a headset. */
const APP_COUNT: Readonly<Record<DevicePlatform, { min: number; max: number }>> = {
  iOS: { min: 12, max: 45 },
  iPadOS: { min: 10, max: 40 },
  macOS: { min: 12, max: 32 },
  tvOS: { min: 4, max: 12 },
  visionOS: { min: 4, max: 12 },
};

/** The CFBundleVersion a release of `shortVersion` carries: a build number derived from it, stable per app. */
export function bundleVersion(shortVersion: string): string {
  const n = shortVersion.split(".").reduce((acc, part) => (acc * 31 + (Number.parseInt(part, 10) || 0)) % 100_000, 7);
  return String(1000 + n);
}

export function catalogAppToInstalled(entry: CatalogApp, shortVersion: string, rng: RandomSource): InstalledApp {
  const installed: InstalledApp = {
    identifier: entry.identifier,
    name: entry.name,
    shortVersion,
    version: bundleVersion(shortVersion),
    bundleSize: Math.round(entry.sizeMB * 1_000_000 * (0.9 + rng.int(20) / 100)),
    // Documents and caches: up to 40% of the bundle (drawn in KB, as RandomSource.int stays below 2^32).
    dynamicSize: rng.int(Math.max(1, Math.round(entry.sizeMB * 400))) * 1000,
    managed: false,
  };
  if (entry.storeId !== undefined) installed.itunesStoreId = entry.storeId;
  return installed;
}

/** A seeded, varied set of user-installed apps (none managed: the MDM server has not installed anything yet). */
export function initialApps(platform: DevicePlatform, rng: RandomSource): InstalledApp[] {
  const catalog = [...CATALOGS[platform]];
  const { min, max } = APP_COUNT[platform];
  const count = Math.min(catalog.length, min + rng.int(max - min + 1));
  // A partial Fisher-Yates shuffle: the first `count` entries are a uniform sample.
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(catalog.length - i);
    [catalog[i], catalog[j]] = [catalog[j]!, catalog[i]!];
  }
  return catalog.slice(0, count).map((entry) => catalogAppToInstalled(entry, rng.pick(entry.versions), rng));
}
