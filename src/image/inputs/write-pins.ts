import { isMap, isScalar, parseDocument } from 'yaml';
import type { ImagePackagePin } from './schema.js';

const HEADER = '# The closed set the image is built from, written by `ucvm image lock`.\n';

/**
 * Writes the closed set into image.yaml text: only the `packages` block changes (it is
 * replaced whole, sorted by name, one flow mapping per line); every other byte stays.
 */
export function writeImagePins(
  original: string,
  pins: ReadonlyMap<string, ImagePackagePin>,
): string {
  const text = original.endsWith('\n') || original === '' ? original : `${original}\n`;
  const block = renderPins(pins);
  const doc = parseDocument(text);
  const root = doc.contents;
  if (!isMap(root)) throw new Error('image.yaml is a mapping');
  const pair = root.items.find((item) => isScalar(item.key) && item.key.value === 'packages');
  if (pair === undefined) return `${text}${HEADER}${block}`;
  const start = (pair.key as { range?: [number, number, number] }).range?.[0];
  const valueRange = (pair.value as { range?: [number, number, number] } | null)?.range;
  if (start === undefined) throw new Error('cannot locate packages in image.yaml');
  let end = valueRange === undefined ? text.indexOf('\n', start) + 1 : valueRange[2];
  if (end < text.length && text[end - 1] !== '\n') end = text.indexOf('\n', end) + 1 || text.length;
  const updated = `${text.slice(0, start)}${block}${text.slice(end)}`;
  return updated === text ? original : updated;
}

function renderPins(pins: ReadonlyMap<string, ImagePackagePin>): string {
  const names = [...pins.keys()].sort();
  if (names.length === 0) return 'packages: {}\n';
  const lines = names.map((name) => {
    const pin = pins.get(name)!;
    return `  ${name}: { version: ${JSON.stringify(pin.version)}, sha256: ${pin.sha256} }`;
  });
  return `packages:\n${lines.join('\n')}\n`;
}
