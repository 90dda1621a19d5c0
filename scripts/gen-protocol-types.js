#!/usr/bin/env node
/**
 * Generate src/protocol.generated.ts from protocol/yolo_lab.schema.json: the
 * TypeScript types of every comm message and definition, so the browser's
 * types cannot drift from the schema Python validates against.
 *
 *   node scripts/gen-protocol-types.js          write the file
 *   node scripts/gen-protocol-types.js --check  exit 1 when it is stale
 */
const fs = require('fs');
const path = require('path');
const { compile } = require('json-schema-to-typescript');

const ROOT = path.resolve(__dirname, '..');
const SCHEMA = path.join(ROOT, 'protocol', 'yolo_lab.schema.json');
const OUT = path.join(ROOT, 'src', 'protocol.generated.ts');

/** The generated module's text. */
async function generate() {
  const schema = JSON.parse(fs.readFileSync(SCHEMA, 'utf-8'));
  const ts = await compile(schema, 'Message', {
    bannerComment:
      '/**\n * Generated from protocol/yolo_lab.schema.json by ' +
      'scripts/gen-protocol-types.js.\n * Do not edit: change the schema and run `npm run gen:protocol`.\n */',
    cwd: path.dirname(SCHEMA),
    declareExternallyReferenced: true,
    unreachableDefinitions: true,
    additionalProperties: false,
    strictIndexSignatures: false,
    style: { singleQuote: true, trailingComma: 'none', arrowParens: 'avoid' }
  });
  return ts
    .split('\n')
    .filter(line => !/referenced by `undefined`|via the `definition`/.test(line))
    .join('\n')
    .replace(/\n \*\n \*\/\n/g, '\n */\n')
    .replace(/\/\*\*\n \*\/\n/g, '') + extras(schema);
}

/** PascalCase of a definition name, as json-schema-to-typescript names it. */
function typeName(definition) {
  return definition
    .split('_')
    .map(w => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/**
 * What the compiler cannot derive: the union of the messages (from the
 * schema's type -> definition table), the version and the constants.
 */
function extras(schema) {
  const pairs = schema.allOf.map(rule => [
    rule.if.properties.type.const,
    rule.then.$ref.split('/').pop()
  ]);
  const union = pairs.map(([, def]) => `  | ${typeName(def)}`).join('\n');
  const constants = schema['x-yolo-lab'];
  return [
    '',
    '/** Every message of the protocol, by its `type`. */',
    `export type Message =\n${union};`,
    '',
    '/** The `type` of every message. */',
    'export type MessageType = Message[\'type\'];',
    '',
    '/** Major protocol version this build speaks. */',
    `export const PROTOCOL_VERSION = ${schema.properties.v.const};`,
    '',
    '/** Name of the comm target registered by the Python package. */',
    `export const COMM_TARGET = '${constants.comm_target}';`,
    '',
    '/** MIME type of a training run output (`yolo_lab.train(...)`). */',
    `export const RUN_MIME = '${constants.mime_types.run}';`,
    '',
    '/** MIME type of an autotune output (`yolo_lab.autotune(...)`). */',
    `export const AUTOTUNE_MIME = '${constants.mime_types.autotune}';`,
    '',
    '/** MIME type of a live telemetry output (`yolo_lab.monitor()`). */',
    `export const TELEMETRY_MIME = '${constants.mime_types.telemetry}';`,
    ''
  ].join('\n');
}

module.exports = { generate, OUT };

if (require.main === module) {
  generate().then(
    text => {
      if (process.argv.includes('--check')) {
        const current = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf-8') : '';
        if (current !== text) {
          console.error(`${path.relative(ROOT, OUT)} is stale: run npm run gen:protocol`);
          process.exit(1);
        }
        return;
      }
      fs.writeFileSync(OUT, text);
      console.log(`wrote ${path.relative(ROOT, OUT)}`);
    },
    reason => {
      console.error(reason);
      process.exit(1);
    }
  );
}
