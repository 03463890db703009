// Chinese and English for every label of the console. Class names come from the API (nameZh/nameEn).
import { signal } from '@preact/signals';

export type Lang = 'zh' | 'en';
const LANG_STORAGE = 'citywatch.lang';

function initialLang(): Lang {
  try {
    const s = localStorage.getItem(LANG_STORAGE);
    if (s === 'zh' || s === 'en') return s;
  } catch {
    /* storage unavailable */
  }
  return navigator.language?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export const lang = signal<Lang>(initialLang());

export function setLang(l: Lang): void {
  lang.value = l;
  try {
    localStorage.setItem(LANG_STORAGE, l);
  } catch {
    /* ignore */
  }
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
}

const T = {
  appTitle: ['智慧城管 控制台', 'citywatch console'],
  signIn: ['登录', 'Sign in'],
  signOut: ['退出', 'Sign out'],
  apiKey: ['API 密钥', 'API key'],
  apiKeyHint: [
    '输入管理员发放的 API 密钥（cwk_…）；仅保存在本浏览器。',
    'Enter the API key your administrator gave you (cwk_…); it is kept in this browser only.',
  ],
  signedInAs: ['当前用户', 'Signed in as'],
  role: ['角色', 'role'],
  cameras: ['摄像头', 'Cameras'],
  cases: ['案件', 'Cases'],
  hotspots: ['高发统计', 'Hot spots'],
  deliveries: ['推送', 'Deliveries'],
  replays: ['回放评测', 'Replays'],
  addCamera: ['添加摄像头', 'Add camera'],
  editCamera: ['编辑摄像头', 'Edit camera'],
  name: ['名称', 'Name'],
  id: ['编号', 'ID'],
  url: ['视频流地址', 'Stream URL'],
  detectUrl: ['分析子码流（可选）', 'Analysis substream (optional)'],
  enabled: ['启用', 'Enabled'],
  save: ['保存', 'Save'],
  cancel: ['取消', 'Cancel'],
  delete: ['删除', 'Delete'],
  reload: ['重新加载', 'Reload'],
  loading: ['加载中…', 'Loading…'],
  state: ['状态', 'State'],
  reason: ['原因', 'Reason'],
  fps: ['分析帧率', 'Analysed fps'],
  decode: ['解码方式', 'Decode'],
  openCases: ['未结案件', 'Open cases'],
  view: ['查看', 'View'],
  zones: ['区域', 'Zones'],
  classes: ['类别调参', 'Classes'],
  noFrame: ['暂无实时画面', 'No live frame yet'],
  waitingLive: ['正在等待实时画面…', 'Waiting for the live picture…'],
  waitingLiveHint: [
    '工作进程只在有人查看摄像头时发布实时画面，几秒内出现。',
    'Workers publish the live picture only while someone watches the camera; it appears within a few seconds.',
  ],
  live: ['实时画面', 'Live view'],
  configVersion: ['配置版本', 'config version'],
  frame: ['帧', 'frame'],
  detections: ['检测', 'Detections'],
  tracks: ['跟踪目标', 'Tracks'],
  subjects: ['候选对象', 'Subjects'],
  subjectsHint: ['每个目标为何是（或不是）候选', 'Why each subject is or is not a candidate'],
  noSubjects: ['当前没有候选对象', 'No subjects right now'],
  candidate: ['候选', 'candidate'],
  confirmed: ['已确认', 'confirmed'],
  refused: ['已排除', 'refused'],
  zoneEditor: ['区域编辑', 'Zone editor'],
  zoneEditorHint: [
    '点击画面添加顶点；拖动顶点移动；右键（或选中后按删除）删除顶点。',
    'Click the frame to add a vertex; drag a vertex to move it; right-click a vertex (or select it and press Delete) to remove it.',
  ],
  newZone: ['新建区域', 'New zone'],
  deleteZone: ['删除区域', 'Delete zone'],
  deleteVertex: ['删除顶点', 'Delete vertex'],
  zoneType: ['区域类型', 'Zone type'],
  zoneName: ['区域名称', 'Zone name'],
  zoneId: ['区域编号', 'Zone ID'],
  schedule: ['时段', 'Schedule'],
  scheduleNone: ['全天生效', 'Always'],
  scheduleEnforce: ['仅在以下时段执法', 'Enforce only in these windows'],
  scheduleExempt: ['以下时段豁免', 'Exempt in these windows'],
  addWindow: ['添加时段', 'Add window'],
  days: ['星期', 'Days'],
  start: ['开始', 'Start'],
  end: ['结束', 'End'],
  timezone: ['时区', 'Time zone'],
  saved: ['已保存', 'Saved'],
  versionConflict: [
    '保存失败：其他人在您编辑期间修改了该摄像头（版本冲突）。您的修改未覆盖对方的修改。请重新加载后再编辑。',
    'Not saved: someone else changed this camera while you were editing (version conflict). Nothing was overwritten. Reload to see their change, then edit again.',
  ],
  reloadDiscard: ['重新加载（放弃我的修改）', 'Reload (discard my edits)'],
  readOnly: ['您的角色只能查看，不能修改。', 'Your role can view but not change this.'],
  tryIt: ['试运行', 'Try before save'],
  tryHint: [
    '用最近的录像分别运行已保存和编辑后的配置，比较产生的事件。',
    'Runs the saved and the edited config on recent footage and compares the events.',
  ],
  tryMinutes: ['分钟', 'minutes'],
  tryClip: ['回放录像时长', 'Recording replayed'],
  tryMissing: ['录像缺失', 'not in the recording'],
  trySaved: ['已保存配置', 'Saved config'],
  tryEdited: ['编辑后配置', 'Edited config'],
  running: ['运行中', 'running'],
  noEvents: ['无事件', 'no events'],
  caseQueue: ['案件队列', 'Case queue'],
  filters: ['筛选', 'Filters'],
  class: ['类别', 'Class'],
  camera: ['摄像头', 'Camera'],
  zone: ['区域', 'Zone'],
  from: ['起', 'From'],
  to: ['止', 'To'],
  all: ['全部', 'All'],
  apply: ['应用', 'Apply'],
  created: ['创建时间', 'Created'],
  noCases: ['没有符合条件的案件', 'No cases match'],
  snapshot: ['快照', 'Snapshot'],
  clip: ['视频片段', 'Clip'],
  noClip: ['尚无视频证据', 'No clip yet'],
  why: ['为何立案', 'Why this case opened'],
  history: ['处理记录', 'History'],
  actions: ['处置', 'Actions'],
  dispatched: ['派遣', 'Dispatch'],
  handled: ['已处置', 'Handled'],
  closed: ['结案', 'Close'],
  rejected: ['驳回（误报）', 'Reject (false alarm)'],
  rejectReason: ['驳回原因（必填）', 'Reason for rejecting (required)'],
  suppress: ['在此区域屏蔽该类别', 'Suppress this region for this class'],
  confirmReject: ['确认驳回', 'Confirm rejection'],
  suppressedNote: ['已在摄像头配置中屏蔽此区域的该类别', 'This region is now suppressed for this class in the camera config'],
  rejections: ['驳回统计', 'Rejections'],
  rejectionRate: ['驳回率', 'Rejection rate'],
  total: ['总数', 'Cases'],
  rejectedCount: ['驳回', 'Rejected'],
  reasons: ['原因', 'Reasons'],
  active: ['启用', 'active'],
  inactive: ['未启用', 'inactive'],
  threshold: ['参数', 'Threshold'],
  meaning: ['含义', 'Meaning'],
  default: ['默认值', 'Default'],
  current: ['当前值', 'Current'],
  resetDefaults: ['恢复默认', 'Reset to defaults'],
  heatmap: ['类别 × 小时', 'Class × hour of day'],
  byZone: ['高发区域', 'Hot spots by zone'],
  trend: ['周趋势', 'Week over week'],
  thisWeek: ['本周', 'This week'],
  lastWeek: ['上周', 'Last week'],
  deadLetters: ['失败推送', 'Dead letters'],
  redeliver: ['重新推送', 'Redeliver'],
  none: ['无', 'None'],
  upload: ['上传并运行', 'Upload and run'],
  clipFile: ['视频文件', 'Clip file'],
  configJson: ['摄像头配置（JSON）', 'Camera config (JSON)'],
  groundTruth: ['标注真值（JSON，可选）', 'Ground truth (JSON, optional)'],
  precision: ['精确率', 'Precision'],
  recall: ['召回率', 'Recall'],
  timeline: ['时间轴', 'Timeline'],
  online: ['在线', 'online'],
  offline: ['离线', 'offline'],
  stalled: ['卡顿', 'stalled'],
  connecting: ['连接中', 'connecting'],
  unknown: ['未知', 'unknown'],
  disabled: ['已停用', 'disabled'],
  error: ['错误', 'Error'],
  dwell: ['停留', 'dwell'],
  hits: ['命中', 'hits'],
  score: ['中位置信度', 'median score'],
  thresholds: ['阈值', 'thresholds'],
  trackIds: ['跟踪编号', 'track ids'],
  firstSeen: ['首次出现', 'first seen'],
  deadLettersHint: [
    '重试次数用尽仍未被平台接收的推送；平台恢复后可按原幂等键和内容重新推送。',
    'Webhook deliveries the platform did not accept after the last retry; redeliver once it is back (same idempotency key and body).',
  ],
  redelivered: ['已重新推送', 'Redelivered'],
  delivery_pending: ['推送中…', 'sending…'],
  delivery_delivered: ['平台已接收', 'delivered'],
  delivery_dead: ['再次失败', 'failed again'],
  delivery_skipped: ['未配置推送地址，已跳过', 'skipped (no webhook configured)'],
  event: ['事件', 'Event'],
  attempts: ['尝试次数', 'Attempts'],
  lastError: ['最后错误', 'Last error'],
  completed: ['已完成', 'completed'],
  failed: ['失败', 'failed'],
  peak: ['高峰', 'peak'],
  trendOneWeek: [
    '周趋势需要两周的数据：以下为目前仅有的数据（柱状图）。',
    'Week over week needs two weeks of cases: the bars show what there is so far.',
  ],
  overrides: ['本摄像头的覆盖值', 'Overridden on this camera'],
  casesCount: ['个案件', 'cases'],
  points: ['个顶点', 'pts'],
  keepUrlHint: [
    '留空则保留已保存的地址（出于安全，已保存的地址不显示凭据）。',
    'Leave empty to keep the stored address (shown without its credentials).',
  ],
  waiting: ['排队中', 'waiting'],
} as const satisfies Record<string, readonly [string, string]>;

export type TKey = keyof typeof T;

export function t(key: TKey): string {
  const e = T[key];
  return lang.value === 'zh' ? e[0] : e[1];
}

/** A class's name in the current language (both when the other helps, e.g. in lists). */
export function className(c: { nameZh?: string; nameEn?: string; id?: string; classId?: string }): string {
  const name = lang.value === 'zh' ? c.nameZh : c.nameEn;
  return name ?? c.id ?? c.classId ?? '';
}

export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  return new Date(ms).toLocaleString(lang.value === 'zh' ? 'zh-CN' : 'en-GB', { hour12: false });
}

/** Meaning of each per-class threshold (class tuning page). */
export const THRESHOLD_MEANING: Record<string, [string, string]> = {
  enabled: ['是否启用该类别', 'Whether the class runs on this camera'],
  minScore: ['单帧计为命中的最低检测置信度', 'Minimum detector score for a frame to count as a hit'],
  minMedianScore: ['确认所需的近期置信度中位数', 'Median of recent scores needed to confirm'],
  exitMedianScore: ['近期置信度中位数低于此值视为目标离开', 'Below this median of recent scores the subject counts as gone'],
  minDwellSec: ['目标需持续存在的秒数', 'Seconds the subject must stay before it is confirmed'],
  minHits: ['窗口内最少命中帧数（N/M 中的 N）', 'Hits needed within the window (N of M)'],
  window: ['统计命中的分析帧数（M）', 'Analysed frames the hits are counted over (M)'],
  maxGapSec: ['遮挡容忍：短于此的消失不中断', 'Occlusion tolerance: a gap shorter than this keeps the episode'],
  cooldownSec: ['结束后同一目标不再立案的秒数', 'After an episode ends, no new one for this subject for this long'],
  mergeWindowSec: ['在此时间内再次出现视为同一事件', 'A reappearance within this window continues the same episode'],
  warnAfterSec: ['预警阶段开始的秒数', 'Seconds before a warning is raised'],
  graceSec: ['预警后的宽限秒数', 'Grace period after the warning'],
  minCount: ['构成违规的最少目标数', 'How many subjects make a violation'],
  clusterGap: ['聚集：成员间距（人高的倍数）', 'Crowd: members stand within this many person heights'],
  allowBorderCut: ['允许被画面边缘截断的人作为对象', 'A person cut by the frame border may be a subject'],
};

/** Zone types (pipeline/rules/zone-types.ts) as an operator names them. */
const ZONE_TYPE_NAMES: Record<string, [string, string]> = {
  no_vending: ['禁止摆摊区', 'no vending'],
  no_parking: ['禁止停车区', 'no parking'],
  bike_fence: ['共享单车电子围栏', 'bike parking fence'],
  bike_area: ['非机动车停放区', 'bike area'],
  sidewalk: ['人行道', 'sidewalk'],
  roadway: ['机动车道', 'roadway'],
  fire_lane: ['消防通道', 'fire lane'],
  storefront_apron: ['门前区域', 'storefront apron'],
  bin_apron: ['垃圾桶周边', 'bin apron'],
  wall: ['墙面', 'wall'],
  crowd_area: ['人员聚集监测区', 'crowd area'],
  custom: ['自定义', 'custom'],
};

/** Case states (infra/stores/case-states.ts). */
const CASE_STATE_NAMES: Record<string, [string, string]> = {
  new: ['新案件', 'new'],
  dispatched: ['已派遣', 'dispatched'],
  handled: ['已处置', 'handled'],
  verified: ['已核实', 'verified'],
  reopened: ['已重开', 'reopened'],
  closed: ['已结案', 'closed'],
  rejected: ['已驳回', 'rejected'],
};

/** Rules that refuse or merge a candidate (pipeline/rules/engine.ts, case-policy.ts). */
const RULE_NAMES: Record<string, [string, string]> = {
  min_score: ['置信度不足', 'score too low'],
  yields: ['让位于优先类别', 'yields to another class'],
  suppressed: ['已屏蔽区域', 'suppressed region'],
  not_stationary: ['未静止', 'not standing still'],
  border_cut: ['被画面边缘截断', 'cut by the frame border'],
  companion: ['缺少伴随目标', 'no companion'],
  excluded_zone: ['位于排除区域', 'in an excluded zone'],
  shape: ['形状不符', 'wrong shape'],
  cluster: ['聚集', 'cluster'],
  count: ['数量', 'count'],
  overlap: ['与已有案件重叠', 'overlaps an open case'],
  resumed: ['原案件继续', 'resumes an earlier case'],
};

function named(table: Record<string, [string, string]>, id: string): string {
  const e = table[id];
  return e ? e[lang.value === 'zh' ? 0 : 1] : id;
}

export const zoneTypeName = (type: string): string => named(ZONE_TYPE_NAMES, type);
export const caseStateName = (state: string): string => named(CASE_STATE_NAMES, state);
export const ruleName = (rule: string): string => named(RULE_NAMES, rule);

/** A replay job's state (BullMQ: waiting, active, completed, failed, …). */
export function replayStateName(state: string): string {
  if (state === 'completed' || state === 'failed' || state === 'waiting') return t(state);
  return t('running');
}

/** API key roles (api/auth: admin, operator, platform, tester). */
const ROLE_NAMES: Record<string, [string, string]> = {
  admin: ['管理员', 'admin'],
  operator: ['操作员', 'operator'],
  platform: ['平台', 'platform'],
  tester: ['测试员', 'tester'],
};
export const roleName = (role: string): string => named(ROLE_NAMES, role);
