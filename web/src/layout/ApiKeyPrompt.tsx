import { useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { setApiKey, useAuthState } from "../api/auth";

/** Shown when the API answered 401: asks for a key and retries everything. */
export function ApiKeyPrompt() {
  const { authRequired, hasKey } = useAuthState();
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
            {hasKey ? "That API key was rejected" : "This API needs a key"}
          </h2>
          <p className="api-key__text">It is kept in this browser only and sent as a Bearer token.</p>
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
