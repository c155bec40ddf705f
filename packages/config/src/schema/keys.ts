/** `keys[]`: AES-256 keys by id, `{id, base64}` or `{id, file}` (exactly one of them). */
import { Type } from '@sinclair/typebox';
import type { Problems } from '../validate.js';
import { Id } from './common.js';

function refineKey(o: { id?: string; base64?: string; file?: string }, path: string, p: Problems): typeof o | undefined {
  if (o.base64 !== undefined && o.file !== undefined) p.add(path, 'needs exactly one of base64 or file, not both');
  else if (o.base64 === undefined && o.file === undefined) p.add(path, 'needs exactly one of base64 or file');
  else return o;
  return undefined;
}

export const KeySchema = Type.Object(
  {
    id: Id('key id, named by databases[].encryptionKeyId and stored in each encrypted backup'),
    base64: Type.Optional(Type.String({ secret: true, description: 'the key: base64 of 32 bytes' })),
    file: Type.Optional(Type.String({ description: 'file (mode 0600) holding the base64 of 32 bytes; relative to the config file' })),
  },
  { additionalProperties: false, refine: refineKey },
);

export const KeysSchema = Type.Array(KeySchema, { description: 'encryption keys; MFB_KEY_<ID>=<base64> adds or replaces one' });

