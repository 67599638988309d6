import { useEffect, useId, useRef, type MouseEvent, type ReactNode, type SyntheticEvent } from "react";

interface Props {
  title: string;
  onClose: () => void;
  children: ReactNode;
  footer?: ReactNode;
  /** `wide` for forms; `drawer` slides in at the side, for details beside the page. */
  variant?: "wide" | "drawer";
}

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * A native modal `<dialog>`: open while mounted. The browser keeps focus inside
 * and makes the rest of the page inert; Escape (the `cancel` event) and a click
 * on the backdrop call `onClose`, and focus goes back where it was.
 */
export function Modal({ title, onClose, children, footer, variant }: Props) {
  const titleId = useId();
  const dialogRef = useRef<HTMLDialogElement>(null);
  const onCloseRef = useRef(onClose);

  useEffect(() => {
    onCloseRef.current = onClose;
  }, [onClose]);

  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    const previouslyFocused = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    // showModal focuses the first focusable element, which is the header's Close
    // button; start in the body instead, where the work is.
    dialog.querySelector<HTMLElement>(`.modal__body :is(${FOCUSABLE})`)?.focus();
    const { overflow } = document.body.style;
    document.body.style.overflow = "hidden";
    return () => {
      if (dialog.open) dialog.close();
      document.body.style.overflow = overflow;
      previouslyFocused?.focus?.();
    };
  }, []);

  function onCancel(event: SyntheticEvent<HTMLDialogElement>) {
    // React decides when the dialog goes away (it unmounts), not the browser.
    event.preventDefault();
    onCloseRef.current();
  }

  function onNativeClose(event: SyntheticEvent<HTMLDialogElement>) {
    // Browsers may close a modal on Escape without a cancelable `cancel` (no user
    // activation since the last one). A `close` left over from our own close()
    // while the dialog was opened again (StrictMode's second mount) is ignored.
    if (!event.currentTarget.open) onCloseRef.current();
  }

  function onBackdropMouseDown(event: MouseEvent<HTMLDialogElement>) {
    // The panel fills the dialog, so only a press on the backdrop targets the dialog itself.
    if (event.target === event.currentTarget) onCloseRef.current();
  }

  return (
    <dialog
      ref={dialogRef}
      className={variant ? `modal modal--${variant}` : "modal"}
      aria-labelledby={titleId}
      onCancel={onCancel}
      onClose={onNativeClose}
      onMouseDown={onBackdropMouseDown}
    >
      <div className="modal__panel">
        <header className="modal__header">
          <h2 id={titleId}>{title}</h2>
          <button type="button" className="button button--icon" aria-label="Close" onClick={onClose}>
            ×
          </button>
        </header>
        <div className="modal__body">{children}</div>
        {footer && <footer className="modal__footer">{footer}</footer>}
      </div>
    </dialog>
  );
}
