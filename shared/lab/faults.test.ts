import { describe, expect, it } from 'vitest';
import {
  describeFaultEffects,
  describeFaults,
  formatSkew,
  hasFaults,
  NO_FAULTS,
  validateFaultConfig,
} from './faults.js';

describe('LAB-1 fault config', () => {
  it('fills missing fields from NO_FAULTS and round-trips a full config', () => {
    expect(validateFaultConfig({})).toEqual(NO_FAULTS);
    const full = {
      partitioned: true,
      up: { fixedMs: 200, jitterMs: 50 },
      down: { fixedMs: 10, jitterMs: 0 },
      dropPct: 10,
      duplicatePct: 5,
      reorderPct: 1,
      skewMs: -300_000,
    };
    expect(validateFaultConfig(JSON.parse(JSON.stringify(full)))).toEqual(full);
  });

  it('names the bad field', () => {
    expect(() => validateFaultConfig(null)).toThrow('faults: expected an object');
    expect(() => validateFaultConfig({ dropPct: 101 })).toThrow('faults.dropPct: expected a number from 0 to 100');
    expect(() => validateFaultConfig({ dropPct: '5' })).toThrow('faults.dropPct: expected a number');
    expect(() => validateFaultConfig({ up: { fixedMs: -1 } })).toThrow('faults.up.fixedMs');
    expect(() => validateFaultConfig({ up: { latency: 1 } })).toThrow('faults.up.latency: unknown field');
    expect(() => validateFaultConfig({ partitioned: 'yes' })).toThrow('faults.partitioned: expected true or false');
    expect(() => validateFaultConfig({ skew: 5 }, 'timeline[2].faults')).toThrow(
      'timeline[2].faults.skew: unknown field',
    );
  });

  it('describes active faults in plain words, none when healthy', () => {
    expect(describeFaults(NO_FAULTS)).toEqual([]);
    expect(hasFaults(NO_FAULTS)).toBe(false);
    const c = validateFaultConfig({
      partitioned: true,
      up: { fixedMs: 200, jitterMs: 50 },
      down: { fixedMs: 30 },
      dropPct: 10,
      duplicatePct: 5,
      reorderPct: 2,
      skewMs: 300_000,
    });
    expect(hasFaults(c)).toBe(true);
    expect(describeFaults(c)).toEqual([
      'partitioned',
      'latency up 200±50 ms',
      'latency down 30 ms',
      'drops 10 %',
      'duplicates 5 %',
      'reorders 2 %',
      'clock +5 min',
    ]);
    expect([formatSkew(-30_000), formatSkew(250), formatSkew(90_500)]).toEqual(['-30 s', '+250 ms', '+90500 ms']);
    // A day read "+1440 min" on the banner, an hour "+60 min".
    expect([formatSkew(86_400_000), formatSkew(-3_600_000), formatSkew(5_400_000)]).toEqual([
      '+1 day',
      '-1 h',
      '+90 min',
    ]);
  });

  it('LAB-UI-6: the banner says only what the active faults can do (a skewed clock alone loses nothing)', () => {
    const effects = (x: unknown): string => describeFaultEffects(validateFaultConfig(x));
    expect(describeFaultEffects(NO_FAULTS)).toBe('');
    expect(effects({ skewMs: -120_000 })).toBe(
      'This device’s clock is off on purpose, and so are the times its messages claim.',
    );
    expect(effects({ dropPct: 10 })).toBe(
      'Messages may be lost on purpose. A lost message is not sent again by itself: use “Resync now”.',
    );
    expect(effects({ up: { fixedMs: 100 }, dropPct: 1, duplicatePct: 1, reorderPct: 1, skewMs: 5000 })).toBe(
      'Messages may be slow, lost, repeated or out of order on purpose. A lost message is not sent again by itself: use “Resync now”. This device’s clock is off on purpose, and so are the times its messages claim.',
    );
    expect(effects({ partitioned: true, skewMs: 5000 })).toBe(
      'Nothing is sent or received until the partition is lifted; messages you write stay Pending.',
    );
  });
});
