/** When a worker process retires itself: after so many jobs or above an RSS bound. */
import { describe, expect, it } from 'vitest';
import { RecyclePolicy } from '../../worker/recycle-policy.ts';

describe('RecyclePolicy', () => {
  it('retires after max jobs or above the RSS bound; 0 disables each', () => {
    const byJobs = new RecyclePolicy({ maxJobs: 3, maxRssMb: 0 });
    expect([byJobs.jobFinished(), byJobs.jobFinished(), byJobs.jobFinished()]).toEqual([null, null, { kind: 'max-jobs', jobs: 3 }]);
    let rss = 100 * 1024 * 1024;
    const byRss = new RecyclePolicy({ maxJobs: 0, maxRssMb: 200, rssBytes: () => rss });
    expect(byRss.jobFinished()).toBeNull();
    rss = 250 * 1024 * 1024;
    expect(byRss.jobFinished()).toEqual({ kind: 'max-rss', rssMb: 250 });
    const never = new RecyclePolicy({ maxJobs: 0, maxRssMb: 0, rssBytes: () => 1e12 });
    for (let i = 0; i < 100; i++) expect(never.jobFinished()).toBeNull();
  });
});
