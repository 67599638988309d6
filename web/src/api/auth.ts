// The optional API key, sent as a Bearer token.
//
// It lives in sessionStorage: it survives reloads of this tab and is gone when the tab
// closes. Not localStorage, where it would stay on the machine for every later user of
// the browser and for any script of this origin, indefinitely. "Forget key" removes it
// (and the layout drops every cached answer); a 401 removes it too and asks again.
// Versions before this kept it in localStorage: such a key is moved here once and
// deleted there.
import { useSyncExternalStore } from "react";

export const STORAGE_KEY = "campaign-dispatch.api-key";

let authRequired = false;
let rejected = false;
/** Bumped by forgetApiKey: the layout remounts the page under a new generation. */
let generation = 0;
/** The key when sessionStorage refused it (or is unavailable): kept for this page only. */
let memoryKey: string | null = null;
let memoryOnly = false;
const listeners = new Set<() => void>();

function emit() {
  for (const listener of listeners) listener();
}

function session(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

function moveLegacyKey() {
  try {
    const legacy = window.localStorage.getItem(STORAGE_KEY);
    if (legacy === null) return;
    window.localStorage.removeItem(STORAGE_KEY);
    if (getApiKey() === null) storeKey(legacy);
  } catch {
    // No localStorage: nothing was left there.
  }
}

function storeKey(key: string | null) {
  memoryKey = key;
  const storage = session();
  try {
    if (!storage) throw new Error("no sessionStorage");
    if (key) storage.setItem(STORAGE_KEY, key);
    else storage.removeItem(STORAGE_KEY);
    memoryOnly = false;
  } catch {
    memoryOnly = true; // refused or unavailable: the key lives in memory for this page
  }
}

export function getApiKey(): string | null {
  if (memoryOnly) return memoryKey;
  try {
    return session()?.getItem(STORAGE_KEY) ?? null;
  } catch {
    return null;
  }
}

/** Use `key` from now on (the prompt's "Save key"). */
export function setApiKey(key: string | null) {
  storeKey(key);
  authRequired = false;
  rejected = false;
  emit();
}

/** "Forget key": remove the key; the caller also clears the query cache. */
export function forgetApiKey() {
  storeKey(null);
  authRequired = false;
  rejected = false;
  generation += 1;
  emit();
}

/**
 * The API answered 401 to a request that carried `sentKey` (or none): the stored key, if
 * that was it, is no good, so it goes and the prompt asks for another. A 401 to a request
 * sent before a newer key was saved leaves the newer key alone.
 */
export function rejectApiKey(sentKey: string | null) {
  const stored = getApiKey();
  if (stored !== null && stored !== sentKey) return;
  storeKey(null);
  authRequired = true;
  rejected = sentKey !== null;
  emit();
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export interface AuthState {
  /** The API asked for a key (401) and none that works is stored. */
  authRequired: boolean;
  /** The key last sent was refused (rather than none sent). */
  rejected: boolean;
  hasKey: boolean;
  /** Changes on "Forget key". */
  generation: number;
}

let snapshot: AuthState = { authRequired: false, rejected: false, hasKey: false, generation: 0 };
function getSnapshot(): AuthState {
  const hasKey = getApiKey() !== null;
  if (
    snapshot.authRequired !== authRequired ||
    snapshot.rejected !== rejected ||
    snapshot.hasKey !== hasKey ||
    snapshot.generation !== generation
  ) {
    snapshot = { authRequired, rejected, hasKey, generation };
  }
  return snapshot;
}

export function useAuthState(): AuthState {
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

/** Test helper: the state of a fresh page (storage is cleared by the test setup). */
export function resetAuthState() {
  authRequired = false;
  rejected = false;
  memoryKey = null;
  memoryOnly = false;
  emit();
}

/** Test helper: what a page load does first. */
export function startAuth() {
  moveLegacyKey();
}

startAuth();
