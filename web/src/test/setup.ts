import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach, vi } from "vitest";
import { resetAuthState } from "../api/auth";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  window.localStorage.clear();
  resetAuthState();
});

// jsdom logs "not implemented" for scrolling; the app only scrolls as a nicety.
window.scrollTo = () => {};
