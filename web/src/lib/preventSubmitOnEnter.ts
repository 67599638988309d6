import type { KeyboardEvent } from "react";

/** Search boxes live inside the create form; Enter there should not submit it. */
export function preventSubmitOnEnter(event: KeyboardEvent<HTMLInputElement>) {
  if (event.key === "Enter") event.preventDefault();
}
