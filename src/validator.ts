/**
 * The compiled protocol schema. Imported only through a dynamic import()
 * from ./protocol, so ajv and the schema live in their own chunk.
 */
import Ajv from 'ajv';

// The schema sits outside src/ so that Python and TypeScript read one file;
// from lib/ (webpack) and from src/ (jest) the relative path is the same.
declare const require: (id: string) => unknown;
const schema = require('../protocol/yolo_lab.schema.json') as object;

/** A compiled schema check: true when the value is valid. */
export interface ISchemaCheck {
  (value: unknown): boolean;
  errors?: Array<{ instancePath: string; message?: string }> | null;
}

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
