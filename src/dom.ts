/**
 * Building DOM without HTML parsing: text is always a text node.
 */

/** A child to append: a node, a text, or nothing. */
export type Child = Node | string | null | undefined | false;

/** Create an element with a class and children; text is never parsed as HTML. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className = '',
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child);
  }
  return node;
}
