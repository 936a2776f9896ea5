/**
 * The TypeScript blocks of a Markdown page. A marker on the line before a fence
 * (`<!-- file: NAME -->`) names the block's file, so later blocks of the same page
 * can import it as `./NAME.js`; `<!-- fragment -->` marks a block that is not a
 * module on its own and is skipped. Other blocks are named `block-N.ts`.
 */
export interface DocBlock {
  /** File name to write the block to. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly code: string;
}

const FENCE = /^(\s*)```(ts|typescript)\s*$/;
const MARKER = /^\s*<!--\s*(fragment|file:\s*(\S+))\s*-->\s*$/;

export function docBlocks(markdown: string): { blocks: DocBlock[]; fragments: number } {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  let fragments = 0;
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) body.push(lines[i]!.startsWith(indent) ? lines[i]!.slice(indent.length) : lines[i]!);
    let previous = start - 1;
    while (previous >= 0 && lines[previous]!.trim() === '') previous--;
    const marker = previous >= 0 ? MARKER.exec(lines[previous]!) : null;
    if (marker?.[1] === 'fragment') {
      fragments++;
      continue;
    }
    blocks.push({ file: marker?.[2] ?? `block-${start + 1}.ts`, line: start + 1, code: `${body.join('\n')}\n` });
  }
  return { blocks, fragments };
}
