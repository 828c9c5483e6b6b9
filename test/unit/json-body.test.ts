import { describe, expect, it } from 'vitest';
import { parseJsonBody } from '../../src/http/json-body.js';
import { checkBodyNesting } from '../../src/protocol/body-nesting.js';

const bytes = (text: string) => new TextEncoder().encode(text);
/** What the API does: the cuts from the nesting pass, then the parse. */
const parse = (body: Uint8Array, pieceBytes: number) => parseJsonBody(body, checkBodyNesting(body, pieceBytes));

describe('parseJsonBody', () => {
  const events = Array.from({ length: 50 }, (_, i) => ({ type: 'T', content: { s: `a,"]}[{\\ ${i} é`, n: [i, { x: i }] }, targetUsers: [`u${i}`] }));
  const batch = JSON.stringify(events, null, 1);

  it('reads a batch cut into pieces as the same events JSON.parse reads', () => {
    const body = bytes(`\n ${batch} \r\n`);
    expect(checkBodyNesting(body, 200).length).toBeGreaterThan(10);
    expect(parse(body, 200)).toEqual({ ok: true, value: events });
  });

  it('cuts only between the events of a batch, never inside one or in a single event', () => {
    const body = bytes(batch);
    const cuts = checkBodyNesting(body, 1);
    expect(cuts).toHaveLength(events.length - 1);
    cuts.forEach((cut, i) => expect(JSON.parse(`[${new TextDecoder().decode(body.subarray(cut + 1))}`)).toEqual(events.slice(i + 1)));
    expect(checkBodyNesting(bytes(JSON.stringify(events[0])), 1)).toEqual([]);
  });

  it('drops a byte order mark before the body only', () => {
    expect(parse(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes(batch)]), 200)).toEqual({ ok: true, value: events });
    const markAfterCut = bytes(batch.replace('},\n {', '},\uFEFF{'));
    expect(parse(markAfterCut, 1)).toEqual({ ok: false, problem: 'not_json', message: expect.any(String) });
  });

  it('refuses what JSON.parse refuses, with its message, wherever the cuts fall', () => {
    for (const broken of ['[1, 2, ]', '[1, , 2]', '[, 1, 2]', '[1, 2] 3', '[1, 2', '[1, 2]]', '[[1], 2], [3]']) {
      let message = '';
      try {
        JSON.parse(broken);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(parse(bytes(broken), 1), broken).toEqual({ ok: false, problem: 'not_json', message });
    }
  });

  it('refuses bytes that are not UTF-8 in any piece', () => {
    const body = bytes(batch);
    body[body.length - 20] = 0xff;
    expect(parse(body, 200)).toEqual({ ok: false, problem: 'not_utf8' });
  });
});
