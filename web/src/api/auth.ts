// Optional API key: stored in localStorage, sent as a Bearer token. When the
// API answers 401 the app flips `authRequired`, which shows the key prompt.
import { useSyncExternalStore } from "react";

const STORAGE_KEY = "campaign-dispatch.api-key";

let authRequired = false;
const listeners = new Set<() => void>();

function emit() {
  for (const listener of listeners) listener();
}

export function getApiKey(): string | null {
  try {
    return window.localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null) {
  try {
    if (key) window.localStorage.setItem(STORAGE_KEY, key);
    else window.localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Storage may be unavailable (private mode); the key then lives for this request only.
  }
  authRequired = false;
  emit();
}

export function markAuthRequired() {
  if (authRequired) return;
  authRequired = true;
  emit();
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export interface AuthState {
  authRequired: boolean;
  hasKey: boolean;
}

let snapshot: AuthState = { authRequired: false, hasKey: false };
function getSnapshot(): AuthState {
  const hasKey = getApiKey() !== null;
  if (snapshot.authRequired !== authRequired || snapshot.hasKey !== hasKey) {
    snapshot = { authRequired, hasKey };
  }
  return snapshot;
}

export function useAuthState(): AuthState {
  return useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
}

/** Test helper. */
export function resetAuthState() {
  authRequired = false;
  emit();
}
