/** Delete (the ✖ on a result): the requester may, "anyone" may not delete other people's images but listed roles may, and an expired result is said to be. */
import { describe, expect, it } from 'vitest';
import { deleteResult } from '../../commands/delete.ts';
import { context, origin, storedResult } from '../support/command-context.ts';

const stored = storedResult();

describe('delete (✖ on a result)', () => {
  it('lets the requester remove it', () => {
    expect(deleteResult({ result: stored }, context())).toEqual({ kind: 'delete', resultId: 'res-1', messageId: 'msg-0', summary: 'Removed.' });
  });

  it('does not let "anyone" delete other people\'s images, but lets listed roles', () => {
    expect(deleteResult({ result: stored }, context({ env: { PRESS_POLICY: 'anyone' }, origin: { userId: 'u2' } }))).toEqual({
      kind: 'message',
      ephemeral: true,
      code: 'not-allowed',
      message: 'Only the person who asked for this image can remove it.',
    });
    expect(deleteResult({ result: stored }, context({ env: { PRESS_POLICY: 'roles:77' }, origin: { userId: 'mod', platformData: { roleIds: ['77'] } } })).kind).toBe('delete');
  });

  it('says when the result has expired', () => {
    expect(deleteResult({ result: null }, context())).toMatchObject({ code: 'expired' });
  });
});
