import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { forgetApiKey, setApiKey, useAuthState } from "../api/auth";

/** Shown when the API answered 401: asks for a key and retries everything. */
export function ApiKeyPrompt() {
  const { authRequired, rejected } = useAuthState();
  const queryClient = useQueryClient();
  const [value, setValue] = useState("");

  if (!authRequired) return null;

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    const key = value.trim();
    if (!key) return;
    setApiKey(key);
    setValue("");
    void queryClient.invalidateQueries();
  }

  return (
    <section className="api-key" aria-labelledby="api-key-title">
      <form className="api-key__form" onSubmit={onSubmit}>
        <div>
          <h2 id="api-key-title" className="api-key__title">
            {rejected ? "That API key was rejected" : "This API needs a key"}
          </h2>
          <p className="api-key__text">
            Kept in this tab only, until you close it or choose Forget key; sent as a Bearer token.
          </p>
        </div>
        <label className="visually-hidden" htmlFor="api-key-input">
          API key
        </label>
        <input
          id="api-key-input"
          className="input"
          type="password"
          autoComplete="off"
          placeholder="API key"
          value={value}
          onChange={(e) => setValue(e.target.value)}
        />
        <button type="submit" className="button button--primary" disabled={!value.trim()}>
          Save key
        </button>
      </form>
    </section>
  );
}

/**
 * "Forget key", while a key is stored: removes it and every cached answer, and starts the
 * page afresh, so nothing fetched with the key stays on screen; if the API needs a key,
 * its 401 brings the prompt back.
 */
export function ForgetKeyButton() {
  const { hasKey } = useAuthState();
  const queryClient = useQueryClient();
  if (!hasKey) return null;

  function onClick() {
    queryClient.clear();
    forgetApiKey();
  }

  return (
    <button type="button" className="button button--ghost topbar__forget" onClick={onClick}>
      Forget key
    </button>
  );
}
