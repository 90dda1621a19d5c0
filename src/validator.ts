/**
 * The compiled protocol schema. Imported only through a dynamic import()
 * from ./protocol, so ajv and the schema live in their own chunk.
 */
import Ajv from 'ajv';
import type { ISchemaCheck } from './protocol';

// The schema sits outside src/ so that Python and TypeScript read one file;
// from lib/ (webpack) and from src/ (jest) the relative path is the same.
declare const require: (id: string) => unknown;
const schema = require('../protocol/yolo_lab.schema.json') as object;

/** Compile the protocol schema; callers keep the result. */
export function schemaCheck(): ISchemaCheck {
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(schema) as ISchemaCheck;
}

/** Compile the check of one definition of the schema (not a comm message). */
export function definitionCheck(name: string): ISchemaCheck {
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(schema);
  const id = (schema as { $id: string }).$id;
  return ajv.compile({ $ref: `${id}#/definitions/${name}` }) as ISchemaCheck;
}
