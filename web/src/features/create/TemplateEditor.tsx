import { useRef } from "react";
import { usePlaceholders } from "../../api/queries";
import type { ControlProps } from "../../components/Field";
import { FALLBACK_EXAMPLE, insertAt, token } from "./placeholders";

interface Props extends ControlProps {
  value: string;
  onChange: (value: string) => void;
}

/**
 * Template textarea plus clickable placeholder chips that insert at the caret.
 * The chips come from GET /templates/placeholders; while they load, or if they
 * can't be loaded, the template can still be typed by hand.
 */
export function TemplateEditor({ value, onChange, ...control }: Props) {
  const textareaRef = useRef<HTMLTextAreaElement>(null);
  const placeholders = usePlaceholders();

  function insert(text: string) {
    const el = textareaRef.current;
    const start = el?.selectionStart ?? value.length;
    const end = el?.selectionEnd ?? value.length;
    const next = insertAt(value, text, start, end);
    onChange(next.value);
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(next.caret, next.caret);
    });
  }

  return (
    <>
      <textarea
        {...control}
        ref={textareaRef}
        className="input template-editor"
        rows={5}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        placeholder="Hi {first_name|there}, your {preferred_product} is waiting in {location}!"
        spellCheck
      />
      <div className="chips" role="group" aria-label="Insert placeholder" aria-busy={placeholders.isPending || undefined}>
        {placeholders.isPending ? (
          <span className="chips__note" role="status">
            Loading placeholders…
          </span>
        ) : placeholders.isError ? (
          <span className="chips__note chips__note--error" role="status">
            Couldn't load the placeholders; type them as <code>{"{field}"}</code>.{" "}
            <button type="button" className="link-button" onClick={() => void placeholders.refetch()}>
              Try again
            </button>
          </span>
        ) : (
          <>
            {placeholders.data.map((p) => (
              <button
                key={p.name}
                type="button"
                className="chip"
                title={`Insert ${p.label.toLowerCase()}`}
                onClick={() => insert(token(p))}
              >
                {token(p)}
              </button>
            ))}
            {placeholders.data.some((p) => p.name === FALLBACK_EXAMPLE.field) && (
              <button
                type="button"
                className="chip chip--alt"
                title="Insert a placeholder with a fallback for customers missing the field"
                onClick={() => insert(FALLBACK_EXAMPLE.token)}
              >
                {FALLBACK_EXAMPLE.token}
              </button>
            )}
          </>
        )}
      </div>
    </>
  );
}
