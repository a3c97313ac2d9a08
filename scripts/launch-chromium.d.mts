// Types for scripts/launch-chromium.mjs (imported by the TypeScript e2e test).
import type { Browser } from 'playwright-core';

export const CHROMIUM: string;
export function launchChromium(): Promise<Browser>;
