# picow 给人看的消息，简体中文。与 en/picow.ftl 的消息 id 和变量一一对应。
# 命令、参数和用户要输入的值（picow probe、--port、dialout……）保持原样，不翻译。

## 原样显示的文字（picow_i18n::Msg::text）

plain-text = { $text }

## 错误与报告

error-line = 错误：{ $message }
error-debug-hint = （想看技术细节，请加上 --debug 和 RUST_BACKTRACE=1 再运行一次）
panic-report =
    picow 崩溃了：这是 picow 的程序错误，不是你的操作问题。
    请把下面的内容和你运行的命令一起报告给我们，以便修复。

log-error = 错误：
log-warning = 警告：
log-info = 提示：
log-debug = 调试：

## picow serve：普通输出

serve-listening = picow serve：正在监听 { $proto } { $addrs }
serve-lan = 局域网地址：{ $ips }
serve-no-lan = 没有找到局域网地址：请把这台电脑连到开发板所用的 Wi-Fi 网络
serve-lan-virtual = { $ip }（{ $iface }，虚拟网卡）
serve-warning = 警告：{ $message }
serve-loopback-only = 只在 { $ip } 上监听：连 Wi-Fi 的开发板访问不到它（只有这台电脑上的程序可以，比如 picow sim）。去掉 --bind，或者 --bind 一个局域网地址。
serve-advertised = 已在局域网上用 mDNS 公布为 "{ $instance }"（{ $service }），地址 { $host }:{ $port }：用 --server auto 烧录的开发板会自己找到它，--server auto:{ $instance } 只连这一个
serve-advertised-host-taken = 这个网络上 { $preferred } 已被别的设备占用，所以 serve 用 { $host } 应答；已在局域网上用 mDNS 公布为 "{ $instance }"（{ $service }），地址 { $host }:{ $port }：用 --server auto 烧录的开发板会自己找到它，--server auto:{ $instance } 只连这一个
serve-not-advertised = 没有在局域网上公布（{ $error }）：用 --server auto 烧录的开发板找不到这个 serve；请改用 --server HOST:PORT
serve-mdns-bad-name = --name { $name }：{ $error }
serve-mdns-cannot-start = 无法启动 mDNS：{ $error }
serve-mdns-cannot-describe = 无法描述这个服务：{ $error }
serve-mdns-cannot-advertise = 无法公布：{ $error }
serve-give-board = 把这个服务器地址告诉开发板：
serve-give-board-many = 把这个服务器地址告诉开发板（* = 最可能是这个）：
serve-kind-other = 其他
serve-client-row = #{ $id } { $peer } 连接于 { $since }  { $kind } 收 { $bytes_in } B，发 { $bytes_out } B
serve-connected = { $time } #{ $id } 已连接，来自 { $peer }
serve-picow = { $time } #{ $id } 是一块 PicoW
serve-picow-named = { $time } #{ $id } 是一块 PicoW，名字是 { $name }
serve-firmware = #{ $id } 运行 { $project } { $version }（{ $chip }）
serve-firmware-slot = #{ $id } 运行 { $project } { $version }，来自 ota_{ $slot }（{ $chip }）
serve-update-started = #{ $id } 开始通过 Wi-Fi 更新，固件 { $firmware }
serve-update-started-default = #{ $id } 开始通过 Wi-Fi 更新，用构建好的固件
serve-update-uploaded = #{ $id } 镜像已发送并校验通过；板子重启进入新镜像
serve-update-done = #{ $id } 更新完成：板子现在运行 { $version }
serve-update-unchanged = #{ $id } 板子已经在运行这个镜像（{ $version }）：什么也没发送
serve-update-failed = #{ $id } 更新失败：{ $error }
serve-update-not-picow = #{ $id } 不是 PicoW（它没有以 PicoW 的方式问候）：/update 只能更新 picow 板子
serve-cmd-update-needs = /update 后面要写客户端编号：/update 编号 [固件]
serve-cmd-update-file = /update：固件 { $path }：{ $reason }
serve-refused = { $time } 拒绝了 { $peer }：{ $reason }
serve-disconnected = { $time } #{ $id } 已断开：{ $reason }（收到 { $bytes_in } B，发送 { $bytes_out } B）
serve-reason-closed-by-peer = 对方关闭了连接
serve-reason-met = 期望都已满足
serve-reason-timeout = 超时
serve-reason-stopped = 服务器已停止
serve-reason-user = 被用户断开
serve-reason-closed-unsent = 对方关闭了连接（没发出去的数据已丢弃）
serve-reason-reset = 对方重置了连接
serve-reason-aborted = 连接被中止
serve-reason-read-failed = 读取失败：{ $error }
serve-reason-write-failed = 写入失败：{ $error }
serve-reason-socket-failed = 出错：{ $error }
serve-reason-file-failed = 读取要发送的文件失败：{ $error }
serve-reason-not-reading = 对方不再读取：等待发送的数据超过 { $max } 字节（--max-queue）
serve-reason-idle = { $idle } 内没有发来任何数据（--udp-idle）
serve-reason-too-many = 已经有 { $connected } 个客户端连着（--max-clients { $max }）
serve-auto-every = 每 { $every } 自动发送一次
serve-auto-stopped = 自动发送已停止
serve-auto-gone = 自动发送已停止：#{ $id } 已断开（共发送 { $count } 次）
serve-no-client-id = 没有客户端 #{ $id }：用 /list 查看
serve-send-failed = 发送到 #{ $id } 失败：{ $error }
serve-accept-failed = 接受连接失败：{ $error }
serve-udp-socket = UDP 套接字出错：{ $error }
serve-cmd-help = 命令：/list、/select 编号|all、/disconnect 编号、/hex 字节、/file 路径、/ending none|lf|cr|crlf、/auto 时长 文字、/auto stop、/update 编号 [固件]、/quit；其他行作为文字发送（以 // 开头可以发送以 / 开头的文字）
serve-cmd-unknown = 没有 /{ $name } 这个命令；{ $help }
serve-cmd-sending-one = 现在发给 #{ $id }
serve-cmd-sending-all = 现在发给所有客户端
serve-cmd-ending = 行尾：{ $ending }
serve-cmd-bad-ending = `{ $value }` 不是行尾：可用 none、lf、cr 或 crlf
serve-cmd-bad-id = `{ $value }` 不是客户端编号：请写数字，比如 1 或 #1
serve-cmd-file-needs-path = /file 后面要写文件路径
serve-cmd-file = /file：{ $reason }
serve-cmd-auto-bad = /auto：{ $reason }
serve-cmd-auto-needs = /auto 需要一个时长和一段文字，例如 /auto 1s ping
file-cannot-read = 无法读取 { $path }：{ $reason }
file-not-regular = { $path } 是{ $kind }，不是普通文件
file-kind-char = 字符设备
file-kind-block = 块设备
file-kind-fifo = FIFO（命名管道）
file-kind-socket = 套接字
file-kind-dir = 目录
file-kind-other = 特殊文件
file-too-large = { $path } 有 { $len } 字节，超过允许的 { $limit } 字节
duration-syntax = `{ $value }` 不是时长：请写秒数，或者带单位的数字，比如 90、90s、1m30s、1m 30s、500ms
duration-negative = `{ $value }` 是负数：时长必须大于 0
duration-too-short = `{ $value }` 太短：最少是 { $min }
duration-too-long = `{ $value }` 太长：最多是 { $max }
send-error-not-hex = `{ $at }` 不是十六进制数字：请写成 `48 65 6c` 这样的字节
send-error-odd-hex = `{ $at }` 的十六进制数字个数是奇数：每个字节写两位，例如 `48 65 6c`
send-error-lone-backslash = 结尾只有一个 `\`：反斜杠本身要写成 `\\`
send-error-short-hex-escape = `\x` 后面要有两位十六进制数字，例如 `\x0d`
send-error-unknown-escape = 没有 `{ $at }` 这个转义：可用 \r、\n、\t、\0、\\ 或 \xNN
send-error-unmappable = `{ $at }` 无法用 { $encoding } 编码：删掉它、用 /hex 按十六进制发送，或者换一种编码（/encoding utf-8）
send-error-no-encoder = 文字不能以 { $encoding } 发送：请换一种编码（/encoding utf-8）
serve-expect-seen = { $time } 第 { $n } 个期望 /{ $pattern }/ 已在 #{ $id } 看到
serve-no-clients = 没有已连接的客户端
serve-error = { $time } 错误：{ $message }
serve-timeout = 超时（--timeout）
serve-timeout-clients = { "  " }还在等待另外 { $n } 个客户端（--clients）
serve-timeout-unmet = { "  " }没有看到：/{ $pattern }/
serve-timeout-nothing = { "  " }没有收到任何文本
serve-timeout-last = { "  " }#{ $id } 最后发来的文本：{ $text }
serve-summary = 汇总：{ $clients } 个客户端，拒绝 { $refused } 个，收到 { $bytes_in } B，发送 { $bytes_out } B，用时 { $secs } 秒
serve-interrupted = 在所有期望满足之前停止了
serve-cut-off = { "  " }停止时未读取：{ $clients } 个客户端在停止之后发来的 { $bytes } B{ $unfinished ->
    [0] {""}
   *[other] ；2 秒到时仍有 { $unfinished } 个客户端未结束
}

## 串口

port-not-found = 找不到串口 { $path }；{ $present }。请用 `picow probe` 核对串口名（Windows 上是 COM3 这样的名字，COM10 起写成 \\.\COM10）；开发板刚复位或重新插拔过的话，串口名可能变了
port-present = 现有的串口：{ $ports }
port-none-present = 一个串口都没有：开发板插上了吗？要用能传数据的线（只能充电的线没有数据线）
port-no-board =
    没有找到乐鑫（Espressif）开发板（USB 303a:xxxx）。请用能传数据的 USB 线插上开发板（只能充电的线不会出现串口）；如果还是没有，按住 KEY（BOOT）键再插线。然后运行 `picow probe` 查看所有串口和它们后面是什么，或者用 --port 指定串口。{ $present }
port-ambiguous = 找到了好几块乐鑫开发板（{ $ports }）；请用 --port 选一块（`picow probe` 会告诉你哪块是哪块）
port-permission = 没有权限打开 { $path }；{ $hint }
port-permission-linux = 把自己加入 `dialout` 组（`sudo usermod -aG dialout $USER`，然后重新登录），或者安装 picow 的 udev 规则（把 contrib/99-picow.rules 复制到 /etc/udev/rules.d/，再运行 `sudo udevadm control --reload && sudo udevadm trigger`）
port-permission-windows = 可能有别的程序占用了这个串口，或者驱动拒绝访问；请关掉其他串口程序，再重新插拔开发板
port-permission-other = 请检查这个设备的权限
port-busy = 串口 { $path } 正被占用：另一个程序（{ $holders }）打开了它；请关掉那个程序再试
port-busy-windows = 网络调试助手、Thonny、PuTTY、Arduino IDE、串口助手或另一个 picow
port-busy-unix = 另一个串口监视器、espflash、串口终端或 ModemManager
port-other = 无法打开串口 { $path }：{ $reason }
port-list = 无法列出串口：{ $reason }

## ROM 下载程序

device-no-loader = { $port } 上的 ESP ROM 下载程序没有应答（{ $detail }）；请让开发板进入下载模式：拔下 USB 线，按住 KEY（BOOT）键再把数据线插回去（有 RESET 键的板子：按住 BOOT，按一下 RESET 再松开），然后再运行一次这条命令（`picow probe` 可以看它有没有应答）

## picow sim：输入不合法

path-dir-missing = { $flag } 不合法：{ $path } 所在的目录 { $dir } 不存在；请先创建它，或者换一个路径
sim-link-exists = --link { $path } 不合法：它已经存在，而且不是符号链接；请换一个路径
sim-ota-port-taken = --ota-port { $port } 不合法：无法在 { $addr } 上监听（{ $reason }）；请换一个端口，或者用 0 自动选一个空闲端口

## picow probe：普通输出

probe-no-ports = 一个串口都没有找到：开发板用能传数据的线插上了吗？
probe-download = 下载模式的 ESP 芯片（`picow probe --port` 查看详情）
probe-picow-fw = picow-fw { $version }：Wi-Fi { $wifi }，IP { $ip }，服务器 { $server }
probe-micropython = 厂家的 MicroPython：按住 KEY（BOOT）键重新插线，才能烧录
probe-unknown = 未知（{ $detail }）
probe-not-usb = 不是 USB 设备；用 --port 指定它才会检查
probe-no-answer = 串口控制台的 `status` 和 ROM 下载程序的 SYNC 都没有应答
probe-net-none = { $secs } 秒内局域网里没有 picow 开发板应答：它在这个网络里吗？运行的是 picow-fw 并且已经连上 Wi-Fi 了吗？（虚拟开发板要用 `picow sim --mdns`；有些网络挡住了组播：用线连着的开发板请用 `picow probe --port`）

## picow flash：警告与 Wi-Fi 更新

flash-loopback-server = --server { $server } 是回环地址：在开发板上它指的是开发板自己，所以开发板永远连不到这台电脑上的 picow serve（只有虚拟开发板 picow sim 能用它）。请填 `picow serve` 打印出的局域网地址，或者用 --server auto。
flash-saved = 已写入 { $path }（{ $size }，{ $chip } 的固件 { $firmware }）：{ $regions }
flash-written = { $region } 已写入 { $bytes } 字节并校验，用时 { $secs } 秒
flash-skipped = { $region } 没有变化，已跳过
flash-done = 完成，用时 { $secs } 秒：写入 { $written } 个区域，{ $skipped } 个没有变化；Wi-Fi { $ssid }（密码 { $password }），服务器 { $server }{ $reset }
flash-done-reset = ；开发板已复位，正在运行程序
ota-pw-given = OTA 密码 { $shown }（你给的）
ota-pw-board = OTA 密码 { $shown }（开发板原来的）
ota-pw-new = OTA 密码 { $shown }：为这块开发板随机生成，保存在 { $path }（picow flash --ota 会在那里找到它；--show-secrets 显示它）
ota-pw-kept = OTA 密码 { $shown }（为这块开发板保存在 { $path }）
ota-pw-none = 没有 OTA 密码：不能通过 Wi-Fi 更新（用 --ota-password 设置）
flash-micropython-hint = { $port } 上的开发板运行的是厂家的 MicroPython（USB 303a:80d1），电脑没法让它进入下载模式：按住 KEY（BOOT）键，拔下 USB 线再插回去，然后松开按键
flash-waiting = { $hint }。最多等待 { $wait }，直到开发板进入下载模式……
flash-found-download = 在下载模式下找到了 { $port }
flash-no-download = { $wait } 内没有开发板进入下载模式；{ $hint }，然后再运行一次这条命令
ota-unreachable = { $board }：连不上 { $addr }（{ $reason }）：那里没有程序在等待更新。开发板开着吗？和这台电脑在同一个网络里吗（它的串口输出里有 `@picow wifi-joined`）？用旧版 picow 烧录的开发板或者运行 MicroPython 的开发板不能通过 Wi-Fi 更新：先用 USB 烧录一次（picow flash --keep-config）；开发板仍在运行原来的固件

## 固件

fw-missing =
    没有找到 { $chip } 的 picow 固件（找过：{ $places }）。编译一次的方法：{ $command }；之后在任何目录下 picow 都能找到它。也可以用 --firmware ELF 指定
fw-missing-any =
    没有找到 picow 固件（找过：{ $places }）。核桃派PicoW（ESP32-S3）：{ $command }。ESP32-C3 或 C6 的板子：`cargo xtask fw build --chip esp32c3 --release`（或 esp32c6）。之后在任何目录下 picow 都能找到它。也可以用 --firmware ELF 指定
fw-s3-toolchain = 先安装一次乐鑫的 Rust 工具链（`cargo install espup --locked && espup install`，然后 `. $HOME/export-esp.sh`），再在 picow 仓库里运行 `cargo xtask fw build --chip esp32s3 --release`
fw-riscv-build = 在 picow 仓库里运行 `cargo xtask fw build --chip { $chip } --release`
fw-wrong-chip =
    芯片不匹配：{ $port } 上的开发板是 { $board }，但找到的固件是给 { $chips } 的（{ $paths }）。{ $board } 的固件：{ $command }；或者用 --firmware ELF 指定。没有写入任何内容

## picow serve：全屏界面（picow-cli cmd/serve/tui）

view-key-enter = 发送这一行（或执行 /命令）
view-key-alt-enter = 在输入行里换行
view-key-esc = 清空输入行；关闭帮助；退出查找（从不退出程序）
view-key-ctrl-q = 退出（有开发板连着时先确认）
view-key-ctrl-c = 立即退出
view-key-f1 = 本帮助（输入行为空时也可按 ?）
view-key-tab = 选择下一个/上一个客户端，或全部
view-key-f2 = 显示：文本、十六进制、十六进制+文本
view-key-f3 = 时间：本地、UTC、不显示
view-key-f4 = 编码（显示和发送都用它）：UTF-8、GBK、GB18030……
view-key-f5 = 发送时附加的行尾：none、lf、cr、crlf
view-key-f6 = 长行自动换行/截断（Shift-左/右 横向滚动）
view-key-f7 = 暂停显示（数据照常接收、计数和保留）
view-key-f8 = 发送后保留文本（方便再发一次）
view-key-f9 = 输入：文本、带转义的文本（\r \n \xNN）、十六进制
view-key-f10 = 只显示所选客户端的数据
view-key-pgup = 滚动数据；Shift-上/下 一次一行
view-key-ctrl-home = 最早的一行 / 重新跟随新数据
view-key-ctrl-f = 查找（Enter 或 上：更早的匹配，下：更新的）
view-key-ctrl-l = 清空数据区
view-key-ctrl-r = 字节计数清零
view-key-ctrl-g = 展开/收起已断开的客户端
view-key-alt-digit = 发送宏 1 到 10
view-key-left-right = 移动光标；加 Ctrl 或 Alt 按词移动
view-key-home-end = 行首/行尾（也可 Ctrl-A、Ctrl-E）
view-key-up-down = 发送过的行的历史（下次运行还在）
view-key-ctrl-u-k = 删除到行首/行尾
view-key-ctrl-w = 删除光标前的一个词
view-key-ctrl-y = 恢复最近删除的内容
view-cmd-help = 本帮助
view-cmd-list = 已连接的客户端及其计数
view-cmd-select = 输入的文本发给谁（也可按 Tab）
view-cmd-disconnect = 断开一个客户端
view-cmd-hex = 发送用十六进制给出的字节
view-cmd-file = 发送一个文件的内容
view-cmd-auto = 每隔 DUR（如 1s）发送一次 TEXT；/auto stop 停止
view-cmd-update = 通过 Wi-Fi 更新一块 PicoW（默认用构建好的固件）
view-cmd-m = 发送宏 N；带 TEXT 则设置它（会保存）；/m 列出全部
view-cmd-save = 把收到的字节写入一个新文件（-t：带时间的文本行；-a：追加到文件末尾）
view-cmd-save-stop = 停止写入
view-cmd-display = 数据的显示方式（F2）
view-cmd-time = 时间（F3）
view-cmd-encoding = gbk、utf-8、big5……显示和发送都用它（F4）
view-cmd-ending = 发送行的行尾（F5）
view-cmd-input = 输入的文本怎样变成字节（F9）
view-cmd-toggles = on|off：同 F6、F8、F10
view-cmd-find = 高亮 TEXT 并跳到那里；单独输入 /find 则清除
view-cmd-pause = 同 F7、Ctrl-L、Ctrl-R
view-cmd-gone = 展开/收起已断开的客户端（Ctrl-G）
view-cmd-quit = 关闭所有连接并退出
view-cmd-slash = 发送以 / 开头的文本
view-help-keys = 按键
view-help-commands = 命令（在输入行里输入）
view-help-other = 其他行作为文本发给所选的客户端。
view-help-title = 帮助 · Esc 关闭 · ↑↓ PgUp PgDn 滚动
view-clients = { $gone ->
        [0] 客户端：{ $live } 个在线
       *[other] 客户端：{ $live } 个在线，{ $gone } 个已断开
    }
view-all-clients = 全部客户端
view-gone-group = 已断开（{ $n }）  Ctrl-G
view-gone-at = 断开于 { $time }
view-gone-waiting = { $reason }；等它重连
view-no-board = 还没有开发板连上
view-give-fw = picow-fw：picow flash --server
view-give-mp = MicroPython：
view-bar-give = 把 { $server } 或 { $micropython } 告诉开发板
view-bar-loopback = 只监听 { $ip }：Wi-Fi 上的开发板连不上；去掉 --bind
view-bar-gone = 已断开，等它重连
view-bar-all = 全部：
view-bar-tab = Tab：下一个
view-data = 数据
view-only = 只看 #{ $id }
view-paused = 已暂停，{ $n } 行新数据 · F7 继续
view-scrolled = 已向上滚动，{ $n } 行新数据 · Ctrl-End：回到最新
view-find = 查找：{ $text }
view-find-prompt = 查找>
view-to = 发给 { $target }
view-all-n = 全部（{ $n }）
view-target-gone-label = { $label }（已断开）
view-st-paused = 已暂停
view-st-save = ● 保存 { $file } { $size }
view-st-auto = 自动 { $every } → { $to } ×{ $n }
view-st-counts = 收 { $rx } 发 { $tx }
view-st-end = 行尾 { $end }
view-st-input = 输入 { $mode }
view-st-time = 时间 { $clock }
view-st-wrap = 换行
view-st-cut = 截断 +{ $n }
view-st-keep = 保留
view-mode-text = 文本
view-mode-hex = 十六进制
view-mode-both = 十六进制+文本
view-clock-local = 本地
view-clock-utc = UTC
view-clock-off = 关
view-input-escapes = 转义
view-hint-help = 帮助
view-hint-client = 客户端
view-hint-hex = 十六进制
view-hint-time = 时间
view-hint-enc = 编码
view-hint-end = 行尾
view-hint-wrap = 换行
view-hint-pause = 暂停
view-hint-find = 查找
view-hint-clear = 清空
view-hint-quit = 退出
view-quit-title = 退出 picow serve？
view-quit-clients = 有 { $n } 个客户端连着：退出会断开它们。
view-quit-mp = （教程里的 MicroPython 开发板不会自动重连。）
view-quit-yes = 退出
view-quit-any = 其他任意键（包括 Enter）
view-quit-stay = 留下
view-esc-hint = Esc 清空输入行；/quit、Ctrl-Q 或 Ctrl-C 退出
view-not-quitting = 不退出
view-counters-reset = 计数已清零
view-not-sent = 没有发送：{ $reason }
view-encoding-set = 编码 { $name }：收到的数据按它显示，输入的文本按它发送
view-find-count = `{ $text }`：{ $n } 行；Ctrl-F 后按 Enter 找更早的一处
view-find-none = 回滚记录里没有 `{ $text }`
view-find-no-older = 没有更早的含 `{ $text }` 的行
view-find-no-newer = 没有更新的含 `{ $text }` 的行
view-saving-bytes = 正在把 { $whose } 发来的字节保存到 { $path }；单独输入 /save 停止
view-saving-text = 正在把 { $whose } 的文本行保存到 { $path }；单独输入 /save 停止
view-every-client = 所有客户端
view-saved = 已保存 { $n } B 到 { $path }
view-not-saving = 没有在保存：/save 文件 开始保存（收到的原始字节），/save -t 文件 保存带时间的文本行
view-already-saving = 已经在保存到 { $path }：先单独输入 /save 停止
view-save-usage = /save 需要一个文件名：/save 文件（收到的原始字节），/save -t 文件（带时间的文本行），/save -a 文件（追加到文件末尾）
view-save-exists = { $path } 已经存在：/save -a { $path } 追加到它后面，或者换一个文件名
view-save-cannot = 无法打开 { $path } 写入：{ $reason }
view-save-unknown-option = /save 没有 { $option } 这个选项：-t（带时间的文本行），-a（追加）
view-save-stopped = /save { $path } 已停止：{ $reason }
view-takes-on-off = /{ $command } 只接受 on 或 off，不接受 `{ $value }`
view-display-takes = /display 只接受 text、hex 或 both，不接受 `{ $value }`
view-time-takes = /time 只接受 local、utc 或 off，不接受 `{ $value }`
view-input-takes = /input 只接受 text、escapes 或 hex，不接受 `{ $value }`
view-unknown-encoding = 不认识的编码 `{ $value }`：请用 WHATWG 名称，比如 utf-8、gbk、gb18030、big5
view-macro-bad-number = `{ $value }` 不是快捷发送的编号：/m N 发送第 N 条
view-macro-bad = /m { $n }：{ $reason }
view-macro-range = 快捷发送的编号是 1 到 { $max }
view-macros-cannot-read = 无法读取 { $path }：{ $reason }
view-macros-invalid = { $path } 不是有效的快捷发送文件：{ $reason }
view-macros-cannot-write = 无法写入 { $path }：{ $reason }
view-can-send = { $to } 已连接：按 Enter 发送这行文字
view-auto-waits = /auto 在等 { $label } 重新连上（这期间不发送）
view-auto-follows = /auto 跟着 { $label }（原来是 #{ $old }）
view-loopback-local = 本机上的程序（picow sim、测试脚本）可以连接 { $addr }
view-st-all = 全部
view-st-auto-waiting = { $auto }（等待中）
view-macro-unset = 宏 { $n } 还没有设置：/m { $n } 文本 可以设置
view-macro-saved = 宏 { $n } 已保存到 { $path }
view-macro-set = 宏 { $n } 已设置（没有保存：没有配置文件）
view-no-macros = 还没有宏：/m 1 文本 设置宏 1（Alt-1 发送它）
view-history-failed = 历史没有保存到 { $path }：{ $reason }
view-macros-off = { $reason }；修好之前宏不可用
web-page = 网页：{ $url }（用浏览器打开）
web-page-lan = 局域网内的网页地址：{ $url }
web-no-quick-sends = 网页没有快捷发送：{ $reason }
web-page-reachable = 其他电脑也能打开这个网页：任何拿到上面地址（含令牌）的人都能使用它
web-no-browser = picow serve：打不开浏览器（{ $error }）：请自己打开 { $url }
view-no-client = 没有客户端连着：文本留在这里，等开发板连上再发
view-target-gone = { $label } 已断开（{ $reason }）：文本留在这里；开发板重连后会自动选中它，按 Tab 可以选别的
view-target-unknown = 没有客户端 #{ $id }：按 Tab 选一个
view-listening = 正在监听 { $proto } { $addrs }
view-give-board = 把这台电脑的地址告诉开发板（* = 最可能是这个）：
view-offer = { $mark } { $iface }：picow flash --server { $server }
view-offer-virtual = { $mark } { $iface }（虚拟网卡）：picow flash --server { $server }
view-offer-mp = { "    " }MicroPython：{ $micropython }
view-connected = #{ $id } 已连接，来自 { $peer }
view-picow = #{ $id } 是 PicoW
view-picow-named = #{ $id } 是 PicoW，名叫 { $name }
view-back = { $name } 以 #{ $id } 重新连上：已自动选中它
view-back-ip = #{ $id } 是刚才选中的开发板：文本现在发给 #{ $id }
view-disconnected = #{ $id } 已断开：{ $reason }
view-refused = 拒绝了 { $peer }：{ $reason }
view-expect = 期望 { $n } /{ $pattern }/ 已在 #{ $id } 出现
view-client-row = #{ $id } { $peer } { $name } 收 { $rx } B 发 { $tx } B
## picow --help：英文目录里是翻译所依据的原文；原文变了，就显示英文。

help-heading-usage = 用法：
help-heading-options = 选项
help-heading-commands = 命令
help-flag-help = 显示帮助（-h 看摘要，--help 看详细说明）
help-flag-version = 显示版本
help-about = 核桃派PicoW Socket 通讯两端（电脑和开发板）的 Rust 工具
help-after = 退出码：0 成功，1 运行时失败，2 输入或用法错误，124 等待期望的内容超时。
help-arg-verbose = 在 stderr 上输出更多日志（-v 调试，-vv 跟踪）；RUST_LOG 优先
help-arg-quiet = 少输出：只显示错误
help-arg-color = 什么时候用彩色；设置了环境变量 NO_COLOR 时 auto 等于 never
help-arg-json = 以 JSON 输出数据（事件流每行一个对象）
help-arg-utc = 给人看的时间用 UTC 而不是本地时间（JSON 和日志始终是 UTC 的 RFC 3339）
help-arg-debug = 出错时显示技术细节（加上 RUST_BACKTRACE=1 还会显示出错位置），用于报告程序错误
help-sub-serve = 运行开发板要连接的电脑端 TCP/UDP 服务器（代替网络调试助手）
help-sub-flash = 把固件、Wi-Fi 和服务器设置写入开发板
help-sub-monitor = 显示开发板的串口输出；开发板复位或重新插拔后自动重连
help-sub-probe = 查找串口，并识别每个串口后面是什么开发板
help-sub-sim = 在伪终端上运行一块虚拟 PicoW（不需要硬件）
help-sub-completions = 输出 shell 的命令补全脚本
help-serve-port = 监听的 TCP（或 UDP）端口，1 到 65535；0 表示自动选一个空闲端口（第一行输出和 `listening` 事件会告诉你是哪个）
help-serve-bind = 监听的地址（默认：所有 IPv4 和 IPv6 地址）
help-serve-udp = 用 UDP 而不是 TCP；每个对方地址算一个客户端
help-serve-encoding = 收到的字节按什么编码显示成文字：utf-8、gbk、gb18030、big5……
help-serve-hex = 收发的数据以十六进制字节显示，而不是文字
help-serve-send = 每个客户端连上时发送 TEXT（可重复，按顺序）。转义：\r \n \t \0 \\ \xNN
help-serve-expect = 等待匹配正则表达式 REGEX 的文字（可重复，按顺序匹配）；全部看到后以 0 退出
help-serve-timeout = DUR（例如 20s）之后放弃：--expect/--clients 没满足时以 124 退出，否则到时以 0 退出
help-serve-log = 把收发的每个字节以 JSON 行追加到 FILE
help-serve-ota_port = 板子 OTA 监听的端口：serve 在这里询问 PicoW 运行的固件，/update 和 --update 也发到这里
help-serve-ota_password = 板子的 OTA 密码（否则用 PICOW_OTA_PASSWORD，再否则用 picow 按板子 MAC 保存的密码）
help-serve-update = 每块连上来的 PicoW 如果运行的镜像不是 FIRMWARE（ELF 或应用镜像），就通过 Wi-Fi 更新它，每块板子一次
help-serve-plain = 在终端里也输出普通的行（不用全屏界面）
help-flash-server = 服务器：HOST:PORT、[IPv6]:PORT、NAME.local:PORT（用 mDNS 查找）、auto（局域网里第一个 `picow serve`）、auto:NAME（名叫 NAME 的那个）；可加 tcp://… 或 udp://…
help-flash-port = 串口（默认：插着的那一个乐鑫 USB 设备）
help-flash-chip = 固件对应的芯片；开发板必须是这个芯片
help-flash-firmware = 固件 ELF 文件（默认：这个芯片最近一次 `cargo xtask fw build` 的结果）
help-flash-save_image = 把合并后的 flash 镜像写到 FILE，而不是写入开发板
help-monitor-port = 串口（默认：$PICOW_PORT，否则是找到的那一块乐鑫开发板）
help-monitor-baud = 波特率，50 到 12000000（原生 USB 会忽略它）
help-monitor-timestamps = 每行开头加上电脑的时间（本地时间，HH:MM:SS.mmm）
help-monitor-log = 把收到的所有内容逐字节另存到 FILE（覆盖原文件）
help-monitor-reset = 打开串口后复位开发板（只打开串口不会复位）
help-probe-port = 详细检查这个串口，而不是列出所有串口
