import { describe, expect, it } from 'vitest';
import { NO_FAULTS } from '../../../shared/lab/faults.js';
import { readFaultForm, toFaultForm, type FaultForm } from './faultForm.js';

const form = (patch: Partial<FaultForm>): FaultForm => ({ ...toFaultForm(NO_FAULTS), ...patch });

describe('LAB-UI-9: the fault form names a refused field as labelled, in its unit', () => {
  it('a negative latency: the field and its range in milliseconds, not the config path', () => {
    expect(readFaultForm(form({ upFixed: '-50' }), false)).toEqual({
      ok: false,
      field: 'upFixed',
      message: 'Latency up: a number of milliseconds from 0 to 60,000',
    });
  });

  it('a skew typed in seconds is checked in seconds', () => {
    expect(readFaultForm(form({ skewS: '1e9' }), false)).toEqual({
      ok: false,
      field: 'skewS',
      message: 'Clock skew: a number of seconds from -86,400 to 86,400',
    });
    const ok = readFaultForm(form({ skewS: '-86400' }), false);
    expect(ok.ok && ok.config.skewMs).toBe(-86_400_000);
  });

  it('percentages, and text that is no number', () => {
    expect(readFaultForm(form({ drop: '150' }), false)).toMatchObject({
      field: 'drop',
      message: 'Drop: a percentage from 0 to 100',
    });
    expect(readFaultForm(form({ downJitter: 'abc' }), false)).toMatchObject({ field: 'downJitter' });
  });

  it('a valid form is the config, empty fields 0, the partition kept', () => {
    const r = readFaultForm(form({ upFixed: '200', upJitter: '', drop: '10', skewS: '1.5' }), true);
    expect(r).toEqual({
      ok: true,
      config: {
        ...NO_FAULTS,
        partitioned: true,
        up: { fixedMs: 200, jitterMs: 0 },
        dropPct: 10,
        skewMs: 1500,
      },
    });
  });
});
