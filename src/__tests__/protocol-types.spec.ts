/**
 * The TypeScript protocol types are generated from the schema: the checked-in
 * file must be what the generator makes of the schema now.
 */
import * as fs from 'fs';
import * as path from 'path';
import { expectGenerated, ROOT } from './fixtures';

const OUT = path.join(ROOT, 'src', 'protocol.generated.ts');

describe('src/protocol.generated.ts', () => {
  it('is generated from the current schema (npm run gen:protocol)', () => {
    expectGenerated('scripts/gen-protocol-types.js');
  });

  it('has one message type per type of the schema', () => {
    const schema = JSON.parse(
      fs.readFileSync(
        path.join(ROOT, 'protocol', 'yolo_lab.schema.json'),
        'utf-8'
      )
    );
    const text = fs.readFileSync(OUT, 'utf-8');
    const union = /export type Message =([^;]+);/.exec(text)![1];
    const members = union
      .split('|')
      .map(s => s.trim())
      .filter(Boolean);
    expect(members).toHaveLength(schema.properties.type.enum.length);
  });
});
