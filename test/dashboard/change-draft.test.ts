import { describe, expect, it } from 'vitest';
import { EMPTY_DRAFT, changeOf, renames } from '../../src/dashboard/page/change-draft.js';

describe('the change composer', () => {
  it('turns each edit into the change the API takes', () => {
    expect(changeOf({ ...EMPTY_DRAFT, op: 'add', task: 'kickServer2' })).toEqual({ op: 'add', node: { task: 'kickServer2' } });
    expect(changeOf({ ...EMPTY_DRAFT, op: 'add', task: 'kick', id: 'k2', listeners: 'installWordpress', map: 'address=server' })).toEqual({
      op: 'add',
      node: { task: 'kick', id: 'k2' },
      listeners: [{ node: 'installWordpress', map: { address: 'server' } }],
    });
    expect(changeOf({ ...EMPTY_DRAFT, op: 'relink', node: 'installWordpress', from: 'kickServer', to: 'kickServer2' })).toEqual({ op: 'relink', node: 'installWordpress', from: 'kickServer', to: 'kickServer2' });
    expect(changeOf({ ...EMPTY_DRAFT, op: 'link', from: 'a', to: 'b', map: 'x=y, z' })).toEqual({ op: 'link', from: 'a', to: 'b', map: { x: 'y', z: 'z' } });
    expect(changeOf({ ...EMPTY_DRAFT, op: 'skip', node: 'a', result: '{"ok":true}' })).toEqual({ op: 'skip', node: 'a', result: { ok: true } });
    expect(changeOf({ ...EMPTY_DRAFT, op: 'replace', node: 'a', task: 't' })).toEqual({ op: 'replace', node: 'a', with: { task: 't' } });
    expect(changeOf({ ...EMPTY_DRAFT, op: 'stop' })).toEqual({ op: 'stop' });
  });

  it('reads renames, and refuses a skip result that is not JSON', () => {
    expect(renames(' ')).toBeUndefined();
    expect(renames('address = server')).toEqual({ address: 'server' });
    expect(() => changeOf({ ...EMPTY_DRAFT, op: 'skip', node: 'a', result: '{oops' })).toThrow(SyntaxError);
  });
});
