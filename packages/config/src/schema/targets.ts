/** `targets[]`: extra copies of every backup (`{name, url, options?, retention?}`). */
import { Type } from '@sinclair/typebox';
import { join, show, type Problems } from '../validate.js';
import { Id } from './common.js';
import { StorageUrl } from './paths.js';
import { RetentionSchema } from './retention.js';

function refineTarget(o: { name?: string }, path: string, p: Problems): typeof o | undefined {
  if (o.name === 'local') {
    p.add(join(path, 'name'), '"local" is reserved for the primary storage (storageUrl)');
    return undefined;
  }
  return o;
}

function refineTargets(list: Array<{ name?: string } | undefined>, path: string, p: Problems): typeof list {
  const seen = new Set<string>();
  return list.map((t, i) => {
    if (t?.name === undefined) return t;
    if (seen.has(t.name)) {
      p.add(join(join(path, i), 'name'), `duplicate target name ${show(t.name)}`);
      return undefined;
    }
    seen.add(t.name);
    return t;
  });
}

export const TargetSchema = Type.Object(
  {
    name: Id('name used in API, catalog and metrics; "local" is reserved'),
    url: StorageUrl('file://, s3://, gs://, azblob://; relative paths against the config file'),
    options: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$' }), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), {
        mappingText: 'must be a mapping of option names to values',
        keyRule: 'option names are letters, digits and _',
        description: 'driver options (scalars); checked by the driver when the target is opened',
      }),
    ),
    retention: Type.Optional(RetentionSchema),
  },
  { additionalProperties: false, refine: refineTarget },
);

export const TargetsSchema = Type.Array(TargetSchema, { refine: refineTargets, description: 'extra copies' });
