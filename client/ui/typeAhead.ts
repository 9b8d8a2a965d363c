/**
 * TYPE-1: what is typed while a room opens goes into its message box.
 *
 * After the name prompt's Enter (or a room link followed by typing at once), the room takes a
 * moment to load from IndexedDB, and until its message box exists keys land on the page: the first
 * letters of a message were lost. While it listens, a `TypeAhead` keeps the printable keys typed on
 * no control (a field, a button, a link keeps its own) and Backspace; the message box takes them
 * when it first shows. Enter is not kept: it would send before the user has seen the room.
 */
export class TypeAhead {
  private text = '';
  private listening = false;

  constructor(private readonly target: Pick<Document, 'addEventListener' | 'removeEventListener'>) {}

  private readonly onKey = (e: KeyboardEvent): void => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const el = e.target;
    if (
      el !== null &&
      typeof (el as Partial<HTMLElement>).closest === 'function' &&
      ((el as HTMLElement).isContentEditable || (el as HTMLElement).closest('input, textarea, select, button, a'))
    ) {
      return;
    }
    if (e.key === 'Backspace') {
      this.text = [...this.text].slice(0, -1).join('');
    } else if ([...e.key].length === 1) {
      this.text += e.key;
    } else {
      return;
    }
    // Space on the page would scroll it, Backspace once navigated back.
    e.preventDefault();
  };

  start(): void {
    if (this.listening) return;
    this.listening = true;
    this.target.addEventListener('keydown', this.onKey);
  }

  stop(): void {
    if (!this.listening) return;
    this.listening = false;
    this.target.removeEventListener('keydown', this.onKey);
  }

  /** Stops listening and returns what was typed (once: a second call returns ''). */
  take(): string {
    this.stop();
    const text = this.text;
    this.text = '';
    return text;
  }
}
