import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, expect, vi } from "vitest";
import { resetAuthState } from "../api/auth";
import { server, unhandled } from "./api";

beforeAll(() => server.listen({ onUnhandledRequest: "error" }));

afterEach(() => {
  cleanup();
  server.resetHandlers();
  vi.unstubAllGlobals();
  window.localStorage.clear();
  window.sessionStorage.clear();
  resetAuthState();
  const missed = unhandled.splice(0);
  expect(missed, "requests that no test handler answered").toEqual([]);
});

afterAll(() => server.close());

// jsdom logs "not implemented" for scrolling; the app only scrolls as a nicety.
window.scrollTo = () => {};

// jsdom has <dialog> but not showModal/close, nor Escape → `cancel`. Just
// enough of them for the tests: open/close, the events, Escape on the top one.
if (typeof HTMLDialogElement.prototype.showModal !== "function") {
  const modals: HTMLDialogElement[] = [];
  HTMLDialogElement.prototype.showModal = function showModal(this: HTMLDialogElement) {
    this.open = true;
    modals.push(this);
  };
  HTMLDialogElement.prototype.close = function close(this: HTMLDialogElement, returnValue?: string) {
    if (!this.open) return;
    this.open = false;
    if (returnValue !== undefined) this.returnValue = returnValue;
    modals.splice(modals.indexOf(this), 1);
    this.dispatchEvent(new Event("close"));
  };
  document.addEventListener("keydown", (event) => {
    const top = modals.filter((d) => d.isConnected).at(-1);
    if (event.key !== "Escape" || !top) return;
    if (top.dispatchEvent(new Event("cancel", { cancelable: true }))) top.close();
  });
}
