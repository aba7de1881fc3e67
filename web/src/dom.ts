// Small helpers to build the page's elements with text (never HTML strings: no injection).

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string | null)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) if (child !== null) node.append(child);
  return node;
}

export function byId(id: string): HTMLElement;
export function byId<T extends HTMLElement>(id: string, kind: new () => T): T;
export function byId(id: string, kind: new () => HTMLElement = HTMLElement): HTMLElement {
  const node = document.getElementById(id);
  if (!(node instanceof kind)) throw new Error(`#${id} is missing from the page`);
  return node;
}

/** Work started in the background (a refresh, a reload): a failure is logged, never thrown
 * into the page; the connection state already tells the operator the console is away. */
export function background(work: Promise<unknown>, what: string): void {
  work.catch((e: unknown) => {
    console.warn(`${what} failed:`, e);
  });
}
