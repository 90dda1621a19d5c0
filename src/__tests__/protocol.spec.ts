import * as fs from 'fs';
import * as path from 'path';
import { parseMessage, PROTOCOL_VERSION } from '../protocol';
import { definitionCheck, schemaCheck } from '../validator';
import { makeReport, pythonExamples, ROOT } from './fixtures';

describe('protocol', () => {
  const check = schemaCheck();

  it('reads the one schema file of the repository', () => {
    const schema = JSON.parse(
      fs.readFileSync(
        path.join(ROOT, 'protocol', 'yolo_lab.schema.json'),
        'utf-8'
      )
    );
    expect(schema.properties.v.const).toBe(PROTOCOL_VERSION);
  });

  describe('messages from the real Python package', () => {
    const { messages, display } = pythonExamples();

    it('includes a doctor report, telemetry and errors', () => {
      const types = messages.map(m => m.type);
      expect(types).toContain('hello');
      expect(types).toContain('doctor_report');
      expect(types).toContain('error');
      expect(types).toContain('telemetry_batch');
      const live = messages.filter(
        m => m.type === 'telemetry_batch' && !m.history
      );
      expect(live.length).toBeGreaterThan(0);
    });

    it('accepts the data of a real monitor output', () => {
      const check = definitionCheck('telemetry_display');
      expect(check(display)).toBe(true);
      const broken = JSON.parse(JSON.stringify(display));
      broken.samples.push({ t: 'now' });
      expect(check(broken)).toBe(false);
    });

    it.each(messages.map(m => [m.type, m]))('accepts %s', (_, message) => {
      const parsed = parseMessage(message, check);
      expect(parsed).toEqual({ ok: true, message });
    });

    it('rejects the real report once a required field is removed', () => {
      const report = messages.find(m => m.type === 'doctor_report')!;
      const broken = JSON.parse(JSON.stringify(report));
      delete broken.report.torch.version;
      const parsed = parseMessage(broken, check);
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.code).toBe('bad_message');
      expect(!parsed.ok && parsed.reason).toContain('version');
    });
  });

  it('accepts a well-formed report', () => {
    const message = {
      v: 1,
      type: 'doctor_report',
      id: 'a',
      report: makeReport()
    };
    expect(parseMessage(message, check).ok).toBe(true);
  });

  it('rejects a message with an unknown major version', () => {
    const message = {
      v: 2,
      type: 'doctor_report',
      id: 'a',
      report: makeReport()
    };
    const parsed = parseMessage(message, check);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.code).toBe('unsupported_version');
    expect(!parsed.ok && parsed.reason).toMatch(/version 2 is not supported/);
  });

  it.each([
    ['a string', 'hello'],
    ['null', null],
    ['an array', [1, 2]],
    ['no version', { type: 'hello', side: 'kernel', version: '0.1.0' }],
    [
      'a fractional version',
      { v: 1.5, type: 'hello', side: 'kernel', version: '0' }
    ]
  ])('rejects %s as a bad message', (_, data) => {
    const parsed = parseMessage(data, check);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.code).toBe('bad_message');
  });

  it('rejects unknown types and extra fields through the schema', () => {
    expect(parseMessage({ v: 1, type: 'launch_missiles' }, check).ok).toBe(
      false
    );
    expect(
      parseMessage(
        { v: 1, type: 'hello', side: 'kernel', version: '0.1.0', extra: true },
        check
      ).ok
    ).toBe(false);
    const finding = {
      id: 'x',
      severity: 'fatal',
      title: 't',
      cause: 'c',
      fix: 'f'
    };
    expect(
      parseMessage(
        {
          v: 1,
          type: 'doctor_report',
          id: null,
          report: makeReport([finding as any])
        },
        check
      ).ok
    ).toBe(false);
  });
});
