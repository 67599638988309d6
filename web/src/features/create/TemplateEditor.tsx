import { useRef } from "react";
import type { ControlProps } from "../../components/Field";
import { FALLBACK_EXAMPLE, PLACEHOLDERS, insertAt } from "./placeholders";

interface Props extends ControlProps {
  value: string;
  onChange: (value: string) => void;
}

/** Template textarea plus clickable placeholder chips that insert at the caret. */
export function TemplateEditor({ value, onChange, ...control }: Props) {
  const textareaRef = useRef<HTMLTextAreaElement>(null);

  function insert(token: string) {
    const el = textareaRef.current;
    const start = el?.selectionStart ?? value.length;
    const end = el?.selectionEnd ?? value.length;
    const next = insertAt(value, token, start, end);
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
      <div className="chips" role="group" aria-label="Insert placeholder">
        {PLACEHOLDERS.map((p) => (
          <button
            key={p.token}
            type="button"
            className="chip"
            title={`Insert ${p.label.toLowerCase()}`}
            onClick={() => insert(p.token)}
          >
            {p.token}
          </button>
        ))}
        <button
          type="button"
          className="chip chip--alt"
          title="Insert a placeholder with a fallback for customers missing the field"
          onClick={() => insert(FALLBACK_EXAMPLE)}
        >
          {FALLBACK_EXAMPLE}
        </button>
      </div>
    </>
  );
}
