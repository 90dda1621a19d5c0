#!/usr/bin/env node
/**
 * Generate src/training/paramsValidator.generated.ts from
 * protocol/train_params.schema.json: ajv compiles the definition at build
 * time (ajv's standalone code), so the form checks with the library Python's
 * jsonschema agrees with, and the page loads a few kilobytes of checks
 * instead of ajv's compiler.
 *
 *   node scripts/gen-params-validator.js          write the file
 *   node scripts/gen-params-validator.js --check  exit 1 when it is stale
 */
const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const standalone = require('ajv/dist/standalone').default;

const ROOT = path.resolve(__dirname, '..');
const SCHEMA = path.join(ROOT, 'protocol', 'train_params.schema.json');
const OUT = path.join(ROOT, 'src', 'training', 'paramsValidator.generated.ts');

/** The generated module's text. */
function generate() {
  // Descriptions and titles are for people reading the file: the checks and
  // the page do without them (the page loads this module at start).
  const schema = JSON.parse(fs.readFileSync(SCHEMA, 'utf-8'), (key, value) =>
    key === 'description' || key === 'title' ? undefined : value
  );
  // allErrors: every refusal, ranked by the reader (params.ts) as Python's
  // does; messages: false, since the words are the definition's (and the
  // page loads less); strict: false lets the x- annotations through.
  const ajv = new Ajv({
    allErrors: true,
    messages: false,
    strict: false,
    code: { source: true, esm: true, lines: true }
  });
  // ajv's runtime helpers (string length) come in as ES imports.
  const code = standalone(ajv, ajv.compile(schema)).replace(
    /const (\w+) = require\("([^"]+)"\)\.default;/g,
    "import $1 from '$2';"
  );
  if (/require\(/.test(code)) {
    throw new Error('the compiled checks need a runtime module: import it');
  }
  return [
    '/* eslint-disable */',
    '// @ts-nocheck',
    '/**',
    ' * Generated from protocol/train_params.schema.json by',
    ' * scripts/gen-params-validator.js (ajv standalone code).',
    ' * Do not edit: change the schema and run `npm run gen:params`.',
    ' */',
    code.replace(/^"use strict";\n/, ''),
    '',
    '/** The definition the checks were compiled from. */',
    `export const definition = ${code.match(/const (schema\d+) = /)[1]};`,
    ''
  ].join('\n');
}

module.exports = { generate, OUT };

if (require.main === module) {
  const text = generate();
  if (process.argv.includes('--check')) {
    const current = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf-8') : '';
    if (current !== text) {
      console.error(
        `${path.relative(ROOT, OUT)} is stale: run npm run gen:params`
      );
      process.exit(1);
    }
  } else {
    fs.writeFileSync(OUT, text);
    console.log(`wrote ${path.relative(ROOT, OUT)}`);
  }
}
