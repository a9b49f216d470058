/**
 * One share of the machine's limit (see limit.ts): reads every file of a NUL-separated list,
 * compresses it with zlib level 6 in this process (Node's zlib is C zlib) and takes the SHA-1
 * of the compressed bytes; prints what it did as JSON. `node limit-child.js <list>`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const list = readFileSync(process.argv[2]!);
let files = 0;
let bytesIn = 0;
let bytesOut = 0;
let start = 0;
while (start < list.length) {
  let end = list.indexOf(0, start);
  if (end < 0) end = list.length;
  const path = list.subarray(start, end).toString();
  start = end + 1;
  if (path === '') continue;
  const data = readFileSync(path);
  const compressed = deflateSync(data, { level: 6 });
  createHash('sha1').update(compressed).digest();
  files++;
  bytesIn += data.length;
  bytesOut += compressed.length;
}
const usage = process.resourceUsage();
process.stdout.write(
  JSON.stringify({
    files,
    bytesIn,
    bytesOut,
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
  }),
);
